"""One poller per instance for the stop flags of every generation it runs.

Each stream used to poll its own flags: at the default 0.3 s interval, three reads a second per
running stream. Here the streams of an instance (a process, and its event loop) subscribe to one
poller, which reads all their flags in one call per interval (the registry's ``BatchGetItem``)
and wakes the stopped ones, and only those. The poller starts with the first subscriber and
ends when the last one leaves. A stop is seen at the first poll after it was set, within one
interval, as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from stratus.observability import get_logger


@dataclass(frozen=True, slots=True)
class Watch:
    """A running generation whose stop is awaited."""

    user_id: str
    task_id: str
    chat_id: str | None
    requested_at_ms: int


@dataclass
class _Subscribers:
    waiting: dict[Watch, asyncio.Future[None]] = field(default_factory=dict)
    poller: asyncio.Task[None] | None = None
    failures: int = 0


Read = Callable[[list[Watch]], Awaitable[set[Watch]]]


class StopWatch:
    def __init__(self, read: Read, interval: float) -> None:
        self._read = read
        self._interval = interval
        # Per event loop: a future belongs to its loop (tests run many loops in one process).
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Subscribers] = (
            weakref.WeakKeyDictionary()
        )

    async def wait(self, watch: Watch) -> None:
        """Return when ``watch`` is stopped. Cancel to stop watching."""
        loop = asyncio.get_running_loop()
        subscribers = self._loops.setdefault(loop, _Subscribers())
        future: asyncio.Future[None] = loop.create_future()
        subscribers.waiting[watch] = future
        if subscribers.poller is None or subscribers.poller.done():
            # A context of its own: the poller outlives the request that started it and serves
            # every other one, so it must not inherit that request's trace span or log keys.
            subscribers.poller = loop.create_task(
                self._poll(subscribers), context=contextvars.Context()
            )
        try:
            await future
        finally:
            if subscribers.waiting.get(watch) is future:
                del subscribers.waiting[watch]

    def watching(self) -> int:
        """How many generations the running loop's poller watches (for tests and metrics)."""
        subscribers = self._loops.get(asyncio.get_running_loop())
        return len(subscribers.waiting) if subscribers else 0

    async def _poll(self, subscribers: _Subscribers) -> None:
        while subscribers.waiting:
            await asyncio.sleep(self._interval)
            watches = [w for w, f in subscribers.waiting.items() if not f.done()]
            if not watches:
                continue
            try:
                stopped = await self._read(watches)
            except Exception:  # a failed poll must never end a stream; the next one reads again
                subscribers.failures += 1
                if subscribers.failures == 1 or subscribers.failures % 20 == 0:
                    get_logger().warning(
                        "stop poll failed; the streams go on",
                        extra={"streams": len(watches), "failures": subscribers.failures},
                    )
                continue
            subscribers.failures = 0
            for watch in stopped:
                future = subscribers.waiting.get(watch)
                if future is not None and not future.done():
                    future.set_result(None)
