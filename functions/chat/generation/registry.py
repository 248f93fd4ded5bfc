"""Register, watch, stop and finish generations across stateless instances, with the limits.

Everything lives in one DynamoDB item per user (``user_state``), so a generation costs two
writes and whatever polls it runs:

- ``start``: one UpdateItem that reserves the request in the per-minute sliding window (the
  auth limiter's own tallies and judgement, ``stratus.limits``: count first, then judge the
  returned count; never check-then-act), registers the generation, and returns the whole item,
  so the same call also reads the day's tokens and any stop that came before registration. A
  refused request is given back at once (one more write, only on refusal).
- ``finish``: one UpdateItem that unregisters the generation and adds the tokens it used.
- polls: one strongly consistent ``BatchGetItem`` per poll interval for all of this instance's
  running generations (``StopWatch``), whatever their number (up to 100 users per call).

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

from functions.chat.generation.stop_watch import StopWatch, Watch
from functions.chat.generation.user_state import item_key, state_table, table_name
from stratus.ephemeral.aio import ONCE, ConditionFailed, ValidationFailed
from stratus.ephemeral.tallies import PREFIX
from stratus.errors import RateLimitedError, ServiceUnavailableError
from stratus.limits.sliding_window import DEFAULT_PRECISION, Frame, judge
from stratus.settings import AwsSettings, ChatSettings

WINDOW = 60
# The item outlives a quiet user by two days; TTL sweeps it later, readers never rely on that.
_ITEM_TTL = 2 * 24 * 3600
# Chat-level stop flags older than this are tidied away when a generation finishes.
_CHAT_STOP_KEEP_MS = 10 * 60 * 1000
# BatchGetItem reads at most 100 items per call.
_BATCH = 100
# Every attribute goes through a placeholder: some short names are DynamoDB reserved words.
_NAMES = {"#g": "g", "#s": "s", "#cs": "cs", "#day": "day", "#tok": "tok", "#exp": "expires_at"}


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    reason: str | None = None  # "requests" or "tokens" when refused
    retry_after: int = 0
    stopped: bool = False
    # Seen at start, removed at finish: stale entries of other generations, old chat flags
    # and tallies that left the window during a quiet spell (attribute paths).
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
        self._table = state_table(aws)
        self._watch = StopWatch(self._stopped_among, settings.poll_interval)

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
        enforce = enforce_limits
        now = self._clock()
        names = {**_NAMES, "#task": task_id}
        values: dict[str, Any] = {
            ":gen": {
                "M": {
                    "c": {"S": chat_id or ""},
                    "x": {"N": str(int(now + self._settings.max_generation_seconds + 60))},
                }
            },
            ":exp": {"N": str(int(now) + _ITEM_TTL)},
        }
        expression = "SET #g.#task = :gen, #exp = :exp"
        frame = None
        if enforce and self._settings.requests_per_minute:
            frame = Frame.at(now, WINDOW, DEFAULT_PRECISION)
            # Only the current tally: tallies that left the window are seen in this call's
            # answer and removed by ``finish``, which keeps the hot call small.
            names["#tally"] = frame.name(frame.index)
            values[":zero"] = {"N": "0"}
            values[":one"] = {"N": "1"}
            expression += ", #tally = if_not_exists(#tally, :zero) + :one"
        item = await self._update(user_id, expression, names, values, returns=True)
        stops, chat_stops = _map(item, "s"), _map(item, "cs")
        stopped = task_id in stops or _chat_stopped(chat_stops, chat_id, requested_at_ms)
        tallies = {
            name: int(value["N"])
            for name, value in item.items()
            if name.startswith(PREFIX) and name[len(PREFIX) :].isdigit()
        }
        stale = self._stale(_map(item, "g"), chat_stops, tallies, frame, now)
        if frame is not None:
            decision = judge(tallies, frame, now, self._settings.requests_per_minute)
            if not decision.allowed:
                await self._give_back(user_id, task_id, decision.tally)
                return Admission(False, "requests", decision.retry_after, stopped, stale)
        budget = self._settings.daily_token_budget
        day = int(item.get("day", {}).get("N", 0))
        used_today = int(item.get("tok", {}).get("N", 0)) if day == utc_day(now) else 0
        if enforce and budget and used_today >= budget:
            await self._give_back(user_id, task_id, frame.name(frame.index) if frame else None)
            return Admission(False, "tokens", seconds_to_midnight(now), stopped, stale)
        return Admission(True, None, 0, stopped, stale)

    @staticmethod
    def _stale(
        generations: dict[str, Any],
        chat_stops: dict[str, Any],
        tallies: dict[str, int],
        frame: Frame | None,
        now: float,
    ) -> tuple[str, ...]:
        now_ms = int(now * 1000)
        expired = [
            t for t, g in generations.items() if int(g.get("M", {}).get("x", {}).get("N", 0)) < now
        ]
        old_stops = [
            c for c, at in chat_stops.items() if now_ms - int(at["N"]) > _CHAT_STOP_KEEP_MS
        ]
        old_tallies = [name for name in tallies if frame is not None and not frame.counts(name)]
        return (
            *(f"g.{t}" for t in expired),
            *(f"s.{t}" for t in expired),
            *(f"cs.{c}" for c in old_stops),
            *old_tallies,
        )

    async def _give_back(self, user_id: str, task_id: str, tally: str | None) -> None:
        """A refused request never counts: its tally goes back down and it is unregistered."""
        names = {"#g": "g", "#task": task_id}
        if tally is not None:
            names["#tally"] = tally
            try:
                await self._update(
                    user_id,
                    "REMOVE #g.#task SET #tally = #tally - :one",
                    names,
                    {":one": {"N": "1"}, ":zero": {"N": "0"}},
                    # Never below zero: a tally that left the window meanwhile can't come back.
                    condition="#tally > :zero",
                )
                return
            except ConditionFailed:
                del names["#tally"]
        await self._update(user_id, "REMOVE #g.#task", names, None)

    # -- watch and stop ------------------------------------------------------------------

    async def stopped(
        self, user_id: str, task_id: str, chat_id: str | None, requested_at_ms: int
    ) -> None:
        """Return once a stop for this generation is seen: its task's flag, or its chat's set
        after it was requested. This instance's ``StopWatch`` reads every watched generation's
        flags in one call per poll interval."""
        await self._watch.wait(Watch(user_id, task_id, chat_id, requested_at_ms))

    async def stop_requested(
        self, user_id: str, task_id: str, chat_id: str | None, requested_at_ms: int
    ) -> bool:
        """One read of the generation's stop flags, now."""
        watch = Watch(user_id, task_id, chat_id, requested_at_ms)
        return watch in await self._stopped_among([watch])

    async def _stopped_among(self, watches: list[Watch]) -> set[Watch]:
        """Which of ``watches`` are stopped: one strongly consistent BatchGetItem per 100 users,
        of their stop maps only. Unprocessed keys (throttling) count as not stopped: the next
        poll reads them again."""
        users = list(dict.fromkeys(w.user_id for w in watches))
        items: dict[str, dict[str, Any]] = {}
        for first in range(0, len(users), _BATCH):
            request = {
                "RequestItems": {
                    table_name(self._aws): {
                        "Keys": [item_key(u) for u in users[first : first + _BATCH]],
                        "ConsistentRead": True,
                        "ProjectionExpression": "pk, #s, #cs",
                        "ExpressionAttributeNames": {"#s": "s", "#cs": "cs"},
                    }
                }
            }
            # Polls don't retry: the watcher simply reads again one interval later.
            response = await self._table.call("BatchGetItem", request, attempts=ONCE)
            for item in response.get("Responses", {}).get(table_name(self._aws), []):
                items[item["pk"]["S"]] = item
        stopped = set()
        for watch in watches:
            item = items.get(item_key(watch.user_id)["pk"]["S"], {})
            if watch.task_id in _map(item, "s") or _chat_stopped(
                _map(item, "cs"), watch.chat_id, watch.requested_at_ms
            ):
                stopped.add(watch)
        return stopped

    async def stop_task(self, user_id: str, task_id: str, *, only_if_running: bool) -> bool:
        """Set the task's stop flag. With ``only_if_running``, only while it is registered."""
        now_ms = str(int(self._clock() * 1000))
        try:
            await self._update(
                user_id,
                "SET #s.#task = :now",
                {"#s": "s", "#task": task_id, **({"#g": "g"} if only_if_running else {})},
                {":now": {"N": now_ms}},
                condition="attribute_exists(#g.#task)" if only_if_running else None,
            )
        except ConditionFailed:
            return False
        return True

    async def stop_chat(self, user_id: str, chat_id: str) -> None:
        """Stops every generation of the chat that began before now, registered or not yet."""
        now_ms = str(int(self._clock() * 1000))
        await self._update(
            user_id,
            "SET #cs.#chat = :now",
            {"#cs": "cs", "#chat": chat_id},
            {":now": {"N": now_ms}},
        )

    # -- finish --------------------------------------------------------------------------

    async def finish(self, user_id: str, task_id: str, tokens: int, admission: Admission) -> None:
        # No tombstone: the item must stay small however many generations a user runs (every
        # start reads it whole). A late stop of a saved chat turn is answered from Postgres.
        names = {**_NAMES, "#task": task_id}
        removals = ["#g.#task", "#s.#task"]
        for i, path in enumerate(admission.stale):
            head, _, key = path.partition(".")
            if key:
                names[f"#k{i}"] = key
                removals.append(f"#{head}.#k{i}")
            else:
                names[f"#k{i}"] = head
                removals.append(f"#k{i}")
        remove = "REMOVE " + ", ".join(removals)
        if tokens <= 0:
            await self._update(user_id, remove, names, None)
            return
        today = {"N": str(utc_day(self._clock()))}
        values = {":tok": {"N": str(tokens)}, ":today": today}
        try:
            await self._update(
                user_id, f"ADD #tok :tok {remove}", names, values, condition="#day = :today"
            )
        except ConditionFailed:
            await self._update(user_id, f"SET #day = :today, #tok = :tok {remove}", names, values)

    # -- plumbing ------------------------------------------------------------------------

    async def _update(
        self,
        user_id: str,
        expression: str,
        names: dict[str, str],
        values: dict[str, Any] | None,
        *,
        condition: str | None = None,
        returns: bool = False,
    ) -> dict[str, Any]:
        """One UpdateItem; the item's attributes when ``returns``. ``ConditionFailed`` when
        ``condition`` failed.

        The item (and its maps) is created on first use: DynamoDB can't set a map entry
        inside a map that does not exist yet.
        """
        used = f"{expression} {condition or ''}"
        request: dict[str, Any] = {
            "TableName": table_name(self._aws),
            "Key": item_key(user_id),
            "UpdateExpression": expression,
            # DynamoDB refuses placeholders that the expressions do not use.
            "ExpressionAttributeNames": {k: v for k, v in names.items() if k in used},
            "ReturnValues": "ALL_NEW" if returns else "NONE",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        if condition:
            request["ConditionExpression"] = condition
        try:
            response = await self._table.call("UpdateItem", request)
        except ValidationFailed:
            await self._create(user_id)
            try:
                response = await self._table.call("UpdateItem", request)
            except ValidationFailed:
                raise ServiceUnavailableError(
                    "Shared state store refused the update; try again shortly.", retry_after=2
                ) from None
        return dict(response.get("Attributes", {}))

    async def _create(self, user_id: str) -> None:
        now = int(self._clock())
        request = {
            "TableName": table_name(self._aws),
            "Item": {
                **item_key(user_id),
                "g": {"M": {}},
                "s": {"M": {}},
                "cs": {"M": {}},
                "expires_at": {"N": str(now + _ITEM_TTL)},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        try:
            await self._table.call("PutItem", request)
        except ConditionFailed:
            return  # a concurrent first call created it


def _map(item: dict[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name, {}).get("M")
    return value if isinstance(value, dict) else {}


def _chat_stopped(chat_stops: dict[str, Any], chat_id: str | None, requested_at_ms: int) -> bool:
    """A chat's stop flag stops generations requested before it was set, and no later ones."""
    if chat_id is None or chat_id not in chat_stops:
        return False
    return int(chat_stops[chat_id]["N"]) >= requested_at_ms
