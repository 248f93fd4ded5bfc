"""Register, watch, stop and finish generations across stateless instances, with the limits.

``start`` reserves a request in the per-minute window (increment first, judge the returned
count: never check-then-act), registers the generation and reads the day's tokens and any
stop flag, all in one conditional UpdateItem. ``finish`` removes the registration and adds the
tokens used, in another. Polls are strongly consistent reads of the stop flags only.

Failures: DynamoDB errors become ``ServiceUnavailableError``. The engine lets a generation go
on when a poll fails (a stop is never lost: the next successful read sees the flag), and
admits a generation without limits when ``start`` fails, logging it (availability first:
an outage of the shared state store must not take chat down with it).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from functions.chat.generation.user_state import SORT_KEY, state_key, state_model
from stratus.errors import RateLimitedError, ServiceUnavailableError
from stratus.settings import AwsSettings, ChatSettings

WINDOW = 60
# The item outlives a quiet user by two days; TTL sweeps it later, readers never rely on that.
_ITEM_TTL = 2 * 24 * 3600
# Chat-level stop flags older than this are tidied away when a generation finishes.
_CHAT_STOP_KEEP_MS = 10 * 60 * 1000
_FINISHED_KEEP = 5 * 60


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    reason: str | None = None  # "requests" or "tokens" when refused
    retry_after: int = 0
    stopped: bool = False
    # Seen at start, removed at finish: other generations' stale entries and old chat flags.
    stale_generations: tuple[str, ...] = ()
    stale_chat_stops: tuple[str, ...] = ()


def refusal(admission: Admission) -> RateLimitedError:
    """The 429 for a refused admission, with OpenAI's ``rate_limit_error`` and Retry-After."""
    if admission.reason == "tokens":
        message = "You have used today's token budget; try again tomorrow."
    else:
        message = "Too many requests; slow down and try again shortly."
    return RateLimitedError(message, retry_after=admission.retry_after)


def window_estimate(previous: int, current: int, elapsed: float) -> float:
    """The two-window sliding estimate of requests in the last ``WINDOW`` seconds."""
    weight = max(0.0, 1.0 - elapsed / WINDOW)
    return previous * weight + current


def utc_day(now: float) -> int:
    return int(datetime.fromtimestamp(now, UTC).strftime("%Y%m%d"))


def seconds_to_midnight(now: float) -> int:
    return max(1, int(86400 - now % 86400))


class GenerationRegistry:
    def __init__(
        self,
        settings: ChatSettings,
        aws: AwsSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._aws = aws
        self._clock = clock

    @property
    def _model(self) -> Any:
        return state_model(self._aws)

    # -- start ---------------------------------------------------------------------------

    async def start(
        self,
        user_id: str,
        task_id: str,
        chat_id: str | None,
        *,
        enforce_limits: bool,
        requested_at_ms: int,
    ) -> Admission:
        item = await self._run(self._start, user_id, task_id, chat_id, enforce_limits)
        return self._judge(item, task_id, chat_id, enforce_limits, requested_at_ms)

    def _start(self, user_id: str, task_id: str, chat_id: str | None, enforce: bool) -> Any:
        model = self._model
        now = self._clock()
        window = int(now) - int(now) % WINDOW
        common = [
            model.generations[task_id].set(
                {"c": chat_id or "", "x": int(now + self._settings.max_generation_seconds + 60)}
            ),
            model.expires_at.set(datetime.fromtimestamp(int(now) + _ITEM_TTL, UTC)),
        ]
        if not enforce or self._settings.requests_per_minute == 0:
            return self._update(user_id, common, None)
        variants = [
            # The common case: this window already has hits.
            ([model.current.add(1)], model.window == window),
            # The window rolled by one: the old current becomes previous.
            (
                [model.previous.set(model.current), model.current.set(1), model.window.set(window)],
                model.window == window - WINDOW,
            ),
            # First hit, or quiet for more than a window.
            (
                [model.previous.set(0), model.current.set(1), model.window.set(window)],
                model.window.does_not_exist() | (model.window < window - WINDOW),
            ),
        ]
        # Concurrent first hits race on the "first hit" variant; the losers then find the
        # window in place and add to it on their next round.
        for _ in range(3):
            for actions, condition in variants:
                item = self._update(user_id, [*actions, *common], condition)
                if item is not None:
                    return item
        raise ServiceUnavailableError("Shared state store is contended; try again.", retry_after=1)

    def _judge(
        self,
        item: Any,
        task_id: str,
        chat_id: str | None,
        enforce: bool,
        requested_at_ms: int,
    ) -> Admission:
        now = self._clock()
        stops = _as_dict(item.stops)
        chat_stops = _as_dict(item.chat_stops)
        stopped = task_id in stops or (
            chat_id is not None and int(chat_stops.get(chat_id, 0)) >= requested_at_ms
        )
        now_ms = int(now * 1000)
        stale_generations = tuple(
            t for t, g in _as_dict(item.generations).items() if int(g.get("x", 0)) < now
        )
        stale_chat_stops = tuple(
            c for c, at in chat_stops.items() if now_ms - int(at) > _CHAT_STOP_KEEP_MS
        )
        tidy = {"stale_generations": stale_generations, "stale_chat_stops": stale_chat_stops}
        if enforce:
            limit = self._settings.requests_per_minute
            if limit:
                elapsed = now - float(item.window or 0)
                estimate = window_estimate(int(item.previous or 0), int(item.current or 0), elapsed)
                if estimate > limit:
                    retry = max(1, int(WINDOW - elapsed) + 1)
                    return Admission(False, "requests", retry, stopped, **tidy)
            budget = self._settings.daily_token_budget
            if budget and int(item.day or 0) == utc_day(now) and int(item.tokens or 0) >= budget:
                return Admission(False, "tokens", seconds_to_midnight(now), stopped, **tidy)
        return Admission(True, None, 0, stopped, **tidy)

    # -- watch and stop ------------------------------------------------------------------

    async def stop_requested(
        self, user_id: str, task_id: str, chat_id: str | None, requested_at_ms: int
    ) -> bool:
        item = await self._run(self._flags, user_id)
        if item is None:
            return False
        if task_id in _as_dict(item.stops):
            return True
        if chat_id is None:
            return False
        return int(_as_dict(item.chat_stops).get(chat_id, 0)) >= requested_at_ms

    def _flags(self, user_id: str) -> Any:
        return self._read(user_id, ["s", "cs"])

    def _read(self, user_id: str, attributes: list[str]) -> Any:
        model = self._model
        try:
            return model.get(
                state_key(user_id), SORT_KEY, consistent_read=True, attributes_to_get=attributes
            )
        except model.DoesNotExist:
            return None

    async def stop_task(self, user_id: str, task_id: str, *, only_if_running: bool) -> bool:
        """Set the task's stop flag. With ``only_if_running``, only while it is registered and
        not yet finished."""
        model = self._model
        now_ms = int(self._clock() * 1000)
        entry = model.generations[task_id]
        condition = entry.exists() & entry["f"].does_not_exist() if only_if_running else None
        item = await self._run(self._update, user_id, [model.stops[task_id].set(now_ms)], condition)
        return item is not None

    async def recently_finished(self, user_id: str, task_id: str) -> bool:
        """True for a generation of this user that finished in the last few minutes."""
        item = await self._run(self._read, user_id, ["g"])
        entry = _as_dict(item.generations if item else None).get(task_id)
        return isinstance(entry, dict) and bool(entry.get("f"))

    async def stop_chat(self, user_id: str, chat_id: str) -> None:
        """Stops every generation of the chat that began before now, registered or not yet."""
        model = self._model
        now_ms = int(self._clock() * 1000)
        await self._run(self._update, user_id, [model.chat_stops[chat_id].set(now_ms)], None)

    # -- finish --------------------------------------------------------------------------

    async def finish(self, user_id: str, task_id: str, tokens: int, admission: Admission) -> None:
        await self._run(self._finish, user_id, task_id, tokens, admission)

    def _finish(self, user_id: str, task_id: str, tokens: int, admission: Admission) -> None:
        model = self._model
        now = self._clock()
        today = utc_day(now)
        # A finished tombstone for a few minutes: a late stop is told "already finished".
        tombstone = {"x": int(now) + _FINISHED_KEEP, "f": 1}
        tidy = [model.generations[task_id].set(tombstone), model.stops[task_id].remove()]
        tidy += [model.generations[t].remove() for t in admission.stale_generations]
        tidy += [model.stops[t].remove() for t in admission.stale_generations]
        tidy += [model.chat_stops[c].remove() for c in admission.stale_chat_stops]
        if tokens <= 0:
            self._update(user_id, tidy, None)
            return
        same_day = [model.tokens.add(tokens), *tidy]
        if self._update(user_id, same_day, model.day == today) is None:
            self._update(user_id, [model.day.set(today), model.tokens.set(tokens), *tidy], None)

    # -- plumbing ------------------------------------------------------------------------

    def _update(self, user_id: str, actions: list[Any], condition: Any) -> Any:
        """One UpdateItem returning the new item; None when ``condition`` failed.

        The item (and its maps) is created on first use: DynamoDB can't set a map entry
        inside a map that does not exist yet.
        """
        from pynamodb.exceptions import UpdateError

        model = self._model
        item = model(state_key(user_id), SORT_KEY)
        for attempt in range(2):
            try:
                item.update(actions=actions, condition=condition)
                return item
            except UpdateError as exc:
                code = exc.cause_response_code
                if code == "ConditionalCheckFailedException":
                    return None
                if code != "ValidationException" or attempt:
                    raise
                self._create(user_id)
        return None

    def _create(self, user_id: str) -> None:
        from pynamodb.exceptions import PutError

        model = self._model
        now = int(self._clock())
        skeleton = model(
            state_key(user_id),
            SORT_KEY,
            expires_at=datetime.fromtimestamp(now + _ITEM_TTL, UTC),
            generations={},
            stops={},
            chat_stops={},
        )
        try:
            skeleton.save(condition=model.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    async def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        from pynamodb.exceptions import PynamoDBException

        try:
            return await anyio.to_thread.run_sync(functools.partial(func, *args))
        except PynamoDBException:
            raise ServiceUnavailableError(
                "Shared state store is unavailable; try again shortly.", retry_after=2
            ) from None


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(value.as_dict()) if hasattr(value, "as_dict") else dict(value)
