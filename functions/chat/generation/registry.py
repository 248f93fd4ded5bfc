"""Register, watch, stop and finish generations across stateless instances, with the limits.

Everything lives in one DynamoDB item per user (``user_state``), so a generation costs two
writes and whatever polls it runs:

- ``start``: one UpdateItem that reserves the request in the per-minute sliding window (the
  auth limiter's own tallies and judgement, ``stratus.limits``: count first, then judge the
  returned count; never check-then-act), registers the generation, and returns the whole item,
  so the same call also reads the day's tokens and any stop that came before registration. A
  refused request is given back at once (one more write, only on refusal).
- ``finish``: one UpdateItem that unregisters the generation and adds the tokens it used.
- polls: strongly consistent reads of the stop flags only.

Failures: DynamoDB errors become ``ServiceUnavailableError``. The engine lets a generation go
on when a poll fails (a stop is never lost: the next successful read sees the flag), and
admits a generation without limits when ``start`` fails, logging it (availability first: an
outage of the shared state store must not take chat down with it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from functions.chat.generation.user_state import SORT_KEY, state_key, state_model
from stratus.ephemeral.store import call_store, error_code
from stratus.ephemeral.tallies import tallies_of, tally_increment, tally_removal
from stratus.errors import RateLimitedError
from stratus.limits.sliding_window import DEFAULT_PRECISION, Frame, judge
from stratus.settings import AwsSettings, ChatSettings

WINDOW = 60
# The item outlives a quiet user by two days; TTL sweeps it later, readers never rely on that.
_ITEM_TTL = 2 * 24 * 3600
# Chat-level stop flags older than this are tidied away when a generation finishes.
_CHAT_STOP_KEEP_MS = 10 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    reason: str | None = None  # "requests" or "tokens" when refused
    retry_after: int = 0
    stopped: bool = False
    # Seen at start, removed at finish: stale entries of other generations, old chat flags
    # and tallies that left the window during a quiet spell.
    stale: tuple[str, ...] = ()


def refusal(admission: Admission) -> RateLimitedError:
    """The 429 for a refused admission, with OpenAI's ``rate_limit_error`` and Retry-After."""
    if admission.reason == "tokens":
        message = "You have used today's token budget; try again tomorrow."
    else:
        message = "Too many requests; slow down and try again shortly."
    return RateLimitedError(message, retry_after=admission.retry_after)


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
        admission: Admission = await self._run(
            self._start, user_id, task_id, chat_id, enforce_limits, requested_at_ms
        )
        return admission

    def _start(
        self, user_id: str, task_id: str, chat_id: str | None, enforce: bool, requested_at_ms: int
    ) -> Admission:
        model = self._model
        now = self._clock()
        expiry = int(now + self._settings.max_generation_seconds + 60)
        actions = [
            model.generations[task_id].set({"c": chat_id or "", "x": expiry}),
            model.expires_at.set(datetime.fromtimestamp(int(now) + _ITEM_TTL, UTC)),
        ]
        frame = None
        if enforce and self._settings.requests_per_minute:
            frame = Frame.at(now, WINDOW, DEFAULT_PRECISION)
            current = frame.name(frame.index)
            actions.append(tally_increment(current))
            actions += [tally_removal(old) for old in frame.just_left()]
        raw = self._update(user_id, actions, None)
        assert raw is not None
        item = model.from_raw_data(raw)
        stopped = task_id in _as_dict(item.stops) or _chat_stopped(
            _as_dict(item.chat_stops), chat_id, requested_at_ms
        )
        tallies = tallies_of(raw)
        stale = self._stale(item, tallies, frame, now)
        if frame is not None:
            decision = judge(tallies, frame, now, self._settings.requests_per_minute)
            if not decision.allowed:
                self._give_back(user_id, task_id, decision.tally)
                return Admission(False, "requests", decision.retry_after, stopped, stale)
        budget = self._settings.daily_token_budget
        used_today = int(item.tokens or 0) if int(item.day or 0) == utc_day(now) else 0
        if enforce and budget and used_today >= budget:
            self._give_back(user_id, task_id, frame.name(frame.index) if frame else None)
            return Admission(False, "tokens", seconds_to_midnight(now), stopped, stale)
        return Admission(True, None, 0, stopped, stale)

    def _stale(
        self, item: Any, tallies: dict[str, int], frame: Frame | None, now: float
    ) -> tuple[str, ...]:
        now_ms = int(now * 1000)
        expired = [t for t, g in _as_dict(item.generations).items() if int(g.get("x", 0)) < now]
        generations = [f"{kind}:{t}" for t in expired for kind in ("g", "s")]
        chat_stops = [
            f"cs:{c}"
            for c, at in _as_dict(item.chat_stops).items()
            if now_ms - int(at) > _CHAT_STOP_KEEP_MS
        ]
        old_tallies = [name for name in tallies if frame is not None and not frame.counts(name)]
        return (*generations, *chat_stops, *old_tallies)

    def _give_back(self, user_id: str, task_id: str, tally: str | None) -> None:
        """A refused request never counts: its tally goes back down and it is unregistered."""
        from pynamodb.expressions.operand import Path

        model = self._model
        actions = [model.generations[task_id].remove()]
        condition = None
        if tally is not None:
            actions.append(Path(tally).add(-1))
            # Never below zero: a tally that left the window meanwhile must not come back.
            condition = Path(tally) > 0
        if self._update(user_id, actions, condition) is None:
            self._update(user_id, actions[:1], None)

    # -- watch and stop ------------------------------------------------------------------

    async def stop_requested(
        self, user_id: str, task_id: str, chat_id: str | None, requested_at_ms: int
    ) -> bool:
        item = await self._run(self._read, user_id, ["s", "cs"])
        if item is None:
            return False
        if task_id in _as_dict(item.stops):
            return True
        return _chat_stopped(_as_dict(item.chat_stops), chat_id, requested_at_ms)

    async def stop_task(self, user_id: str, task_id: str, *, only_if_running: bool) -> bool:
        """Set the task's stop flag. With ``only_if_running``, only while it is registered."""
        model = self._model
        now_ms = int(self._clock() * 1000)
        condition = model.generations[task_id].exists() if only_if_running else None
        raw = await self._run(self._update, user_id, [model.stops[task_id].set(now_ms)], condition)
        return raw is not None

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
        # No tombstone: the item must stay small however many generations a user runs (every
        # start reads it whole). A late stop of a saved chat turn is answered from Postgres.
        tidy = [model.generations[task_id].remove(), model.stops[task_id].remove()]
        tidy += [_removal(model, name) for name in admission.stale]
        if tokens <= 0:
            self._update(user_id, tidy, None)
            return
        same_day = [model.tokens.add(tokens), *tidy]
        if self._update(user_id, same_day, model.day == today) is None:
            self._update(user_id, [model.day.set(today), model.tokens.set(tokens), *tidy], None)

    # -- plumbing ------------------------------------------------------------------------

    def _read(self, user_id: str, attributes: list[str]) -> Any:
        # Reads are polls, or cheap to repeat: no botocore back-off (see ``state_model``).
        model = state_model(self._aws, retries=0)
        try:
            return model.get(
                state_key(user_id), SORT_KEY, consistent_read=True, attributes_to_get=attributes
            )
        except model.DoesNotExist:
            return None

    def _update(self, user_id: str, actions: list[Any], condition: Any) -> dict[str, Any] | None:
        """One UpdateItem returning the item's raw attributes; None when ``condition`` failed.

        The item (and its maps) is created on first use: DynamoDB can't set a map entry
        inside a map that does not exist yet.
        """
        from pynamodb.exceptions import UpdateError

        connection = self._model._get_connection()
        for attempt in range(2):
            try:
                response = connection.update_item(
                    state_key(user_id),
                    range_key=SORT_KEY,
                    actions=actions,
                    condition=condition,
                    return_values="ALL_NEW",
                )
                return dict(response.get("Attributes", {}))
            except UpdateError as exc:
                code = error_code(exc)
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
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    async def _run(self, func: Callable[..., Any], *args: Any) -> Any:
        return await call_store(func, *args)


def _removal(model: Any, name: str) -> Any:
    """A stale entry seen at start: ``g:<task>``, ``s:<task>``, ``cs:<chat>`` or a tally."""
    kind, _, key = name.partition(":")
    if kind == "g" and key:
        return model.generations[key].remove()
    if kind == "s" and key:
        return model.stops[key].remove()
    if kind == "cs" and key:
        return model.chat_stops[key].remove()
    return tally_removal(name)


def _chat_stopped(chat_stops: dict[str, Any], chat_id: str | None, requested_at_ms: int) -> bool:
    """A chat's stop flag stops generations requested before it was set, and no later ones."""
    if chat_id is None or chat_id not in chat_stops:
        return False
    return int(chat_stops[chat_id]) >= requested_at_ms


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(value.as_dict()) if hasattr(value, "as_dict") else dict(value)
