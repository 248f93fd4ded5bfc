"""A sliding-window rate limit shared by every process, one DynamoDB call per attempt.

Reserve first, judge after: each attempt is counted atomically before the caller does the
expensive or sensitive work, and the count that comes back (this attempt included) decides.
However many attempts race, at most ``limit`` are allowed in any window.

The window is cut into ``precision`` sub-windows, each one tally in the key's item, named after
its start. An attempt adds to the current tally and counts every tally that overlaps the last
``window_seconds``, the oldest one whole: no interval of one window's length ever holds more
than ``limit`` allowed attempts, and attempts up to one sub-window older than the window may
still count (a stricter limit, never a looser one). A fixed window would allow twice the limit
across its boundary; the two-window weighted estimate still allows nearly that within one window
length when the earlier attempts bunch up at the end of their window.

Refused attempts are given back at once, so they never count. Expiry is decided from tally names
and the caller's clock; the item's TTL only tidies the table, late.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stratus.ephemeral.tallies import PREFIX, TallyStore, tally_name

DEFAULT_PRECISION = 10


@dataclass(frozen=True, slots=True)
class Counter:
    """One limited thing: an item in the ephemeral table. Several may share a partition."""

    pk: str
    sk: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    """Attempts counted in the window, this one included."""
    retry_after: int
    """Seconds until one more attempt would be allowed; 0 when this one was."""
    tally: str
    """Where this attempt was counted, for ``release``."""


@dataclass(frozen=True, slots=True)
class Frame:
    """Where an instant falls among sub-windows of ``step_ms``."""

    step_ms: int
    index: int
    precision: int

    @classmethod
    def at(cls, now: float, window_seconds: float, precision: int) -> Frame:
        step_ms = max(1, int(window_seconds * 1000) // precision)
        return cls(step_ms, int(now * 1000) // step_ms, precision)

    def name(self, index: int) -> str:
        return tally_name(index * self.step_ms)

    @property
    def oldest(self) -> int:
        """The oldest sub-window that still overlaps the window ending now."""
        return self.index - self.precision

    def leaves_at_ms(self, index: int) -> int:
        """When sub-window ``index`` stops overlapping the window."""
        return (index + self.precision + 1) * self.step_ms

    def counts(self, name: str) -> bool:
        start = int(name[len(PREFIX) :])
        # One sub-window ahead is accepted: another instance's clock may run slightly fast.
        return self.oldest * self.step_ms <= start <= (self.index + 1) * self.step_ms

    def just_left(self) -> list[str]:
        """Sub-windows that left the window recently: removed with every update, for free."""
        return [self.name(self.oldest - back) for back in range(1, self.precision + 2)]


def judge(tallies: Mapping[str, int], frame: Frame, now: float, limit: int) -> Decision:
    """The decision for the attempt just counted in ``tallies`` (pure: no I/O)."""
    live = {name: n for name, n in tallies.items() if frame.counts(name)}
    count = sum(live.values())
    current = frame.name(frame.index)
    if count <= limit:
        return Decision(True, count, 0, current)
    return Decision(False, count, _retry_after(live, current, frame, now, limit), current)


def _retry_after(
    live: Mapping[str, int], current: str, frame: Frame, now: float, limit: int
) -> int:
    # Without this attempt (it is given back), walk from the oldest sub-window until enough
    # attempts have left the window for one more to fit.
    remaining = sum(live.values()) - 1
    for name in sorted(live, key=lambda n: int(n[len(PREFIX) :])):
        remaining -= live[name] - (1 if name == current else 0)
        if remaining + 1 <= limit:
            index = int(name[len(PREFIX) :]) // frame.step_ms
            return max(1, math.ceil((frame.leaves_at_ms(index) - now * 1000) / 1000))
    return max(1, math.ceil(frame.step_ms / 1000))


class SlidingWindow:
    def __init__(
        self,
        tallies: TallyStore,
        *,
        precision: int = DEFAULT_PRECISION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tallies = tallies
        self._precision = precision
        self._clock = clock

    async def reserve(self, counter: Counter, *, limit: int, window_seconds: float) -> Decision:
        """Count one attempt and judge it. A refused attempt is given back before returning."""
        now = self._clock()
        frame = Frame.at(now, window_seconds, self._precision)
        expires_at = math.ceil(now + window_seconds) + 2 * math.ceil(frame.step_ms / 1000)
        tallies = await self._tallies.add(
            counter.pk,
            counter.sk,
            frame.name(frame.index),
            drop=frame.just_left(),
            expires_at=expires_at,
        )
        decision = judge(tallies, frame, now, limit)
        # Tallies older than the ones each update removes survive only a long quiet spell.
        stale = [name for name in tallies if not frame.counts(name)]
        await self._tallies.drop(counter.pk, counter.sk, stale)
        if not decision.allowed:
            await self.release(counter, decision)
        return decision

    async def release(self, counter: Counter, decision: Decision) -> None:
        """Give an attempt back (say, it turned out not to be a failure)."""
        await self._tallies.take(counter.pk, counter.sk, decision.tally)

    async def clear(self, counter: Counter) -> None:
        await self._tallies.delete(counter.pk, counter.sk)

    async def clear_partition(self, pk: str) -> int:
        """Clear every counter stored under ``pk``; return how many there were."""
        return await self._tallies.delete_partition(pk)
