"""Reading upstream bodies line by line, with the caps a hostile upstream must not get past.

Every network read is split into whole lines and handed over as one batch, so lines that arrive
together are relayed together (one write to the client instead of several). Caps: the first
byte must arrive within ``first_byte_timeout``, later bytes within ``idle_timeout`` of each
other, no line may exceed ``max_line`` bytes and the whole body ``max_total`` bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.observability.tracing import span

if TYPE_CHECKING:
    import aiohttp


class StreamLimitError(Exception):
    """The upstream broke a cap or stopped answering; the message is safe to show clients."""


class UpstreamClosedError(Exception):
    """The upstream connection dropped mid-body: a reset, not a clean end."""


@dataclass(frozen=True, slots=True)
class LineLimits:
    first_byte_timeout: float
    idle_timeout: float
    max_line: int
    max_total: int


class _ReadWatch:
    """One timer per stream for the read caps, instead of a fresh ``asyncio.timeout`` per read
    (about 4 us of CPU each, on every token). The timer only acts while a read is waiting:
    a consumer busy elsewhere (a slow client) never trips it. When a read has waited past its
    deadline, the response is closed, which ends that read, and the stream reports a timeout."""

    __slots__ = ("_due", "_handle", "_loop", "_response", "deadline", "expired", "reading")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._loop = asyncio.get_running_loop()
        self._response = response
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self.deadline = 0.0
        self.reading = False
        self.expired = False

    def start_read(self, wait: float) -> None:
        self.deadline = self._loop.time() + wait
        self.reading = True
        # The timer may fire early (it then re-arms), never late: a later deadline keeps it.
        if self._handle is None or self._due > self.deadline:
            self._arm()

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._due = self.deadline
        self._handle = self._loop.call_at(self._due, self._check)

    def _check(self) -> None:
        self._handle = None
        if not self.reading:
            return  # re-armed by the next read
        if self._loop.time() < self.deadline:
            self._arm()
            return
        self.expired = True
        self._response.close()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def iter_line_batches(
    response: aiohttp.ClientResponse, limits: LineLimits
) -> AsyncIterator[list[bytes]]:
    """Yield the complete, non-blank lines of each read; a final unterminated line too."""
    import aiohttp

    content = response.content
    pending = b""
    total = 0
    wait = limits.first_byte_timeout
    watch = _ReadWatch(response)
    try:
        while True:
            watch.start_read(wait)
            try:
                data = await content.readany()
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError):
                if watch.expired:
                    raise _timed_out() from None
                raise UpstreamClosedError from None
            finally:
                watch.reading = False
            if watch.expired:
                raise _timed_out()
            if not data:
                break
            wait = limits.idle_timeout
            total += len(data)
            if total > limits.max_total:
                raise StreamLimitError("The model host's response exceeded the size limit.")
            buffer = pending + data if pending else data
            cut = buffer.rfind(b"\n")
            if cut < 0:
                pending = buffer
            else:
                pending = buffer[cut + 1 :]
                lines = [line for line in buffer[:cut].split(b"\n") if line.strip()]
                if any(len(line) > limits.max_line for line in lines):
                    raise StreamLimitError("The model host sent a line over the size limit.")
                if lines:
                    yield lines
            if len(pending) > limits.max_line:
                raise StreamLimitError("The model host sent a line over the size limit.")
    finally:
        watch.cancel()
    if pending.strip():
        yield [pending]


def _timed_out() -> StreamLimitError:
    return StreamLimitError("The model host stopped sending data (timed out).")


class UpstreamLines:
    """``iter_line_batches`` with the first batch read ahead.

    Reading the first batch before answering the client lets a host that never starts
    answering get a plain 503 instead of a stream that begins and then fails.
    """

    def __init__(self, response: aiohttp.ClientResponse, limits: LineLimits) -> None:
        self._batches = iter_line_batches(response, limits)
        self._first: list[list[bytes]] = []

    async def prime(self) -> None:
        """Wait for the first lines (``StreamLimitError`` or ``UpstreamClosedError`` if none)."""
        with span("upstream.first_byte"), contextlib.suppress(StopAsyncIteration):
            self._first.append(await anext(self._batches))

    async def __aiter__(self) -> AsyncIterator[list[bytes]]:
        while self._first:
            yield self._first.pop()
        async for batch in self._batches:
            yield batch
