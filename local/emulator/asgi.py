"""The raw ASGI side of one HTTP exchange.

The emulator speaks ASGI directly rather than through a framework because its job is
control over the wire: when each byte goes out, dropping a connection mid-body, and
noticing promptly when a client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Literal

from local.emulator.routing import Reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PauseResult = Literal["elapsed", "gone", "closing"]

MAX_BODY_BYTES = 64 * 1024 * 1024
# How often a long pause re-checks the server-wide closing flag (set from another thread).
_CLOSING_POLL_SECONDS = 0.05


class ConnectionDropped(Exception):
    """Raised out of the ASGI app after the response started: the server then closes the
    socket without finishing the body, which is exactly an upstream connection reset."""


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class Connection:
    """Writes one response and watches, concurrently, for the client going away.

    Use as `async with`: the watcher listens on `receive` only once the request body has
    been read, which is when the server starts reporting `http.disconnect` there.
    """

    def __init__(
        self, receive: Receive, send: Send, closing: threading.Event, *, head: bool = False
    ) -> None:
        self._receive = receive
        self._send = send
        self._closing = closing
        self._head = head
        self._gone = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self.started = False

    async def __aenter__(self) -> Connection:
        self._watcher = asyncio.create_task(self._watch())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    async def start(
        self, status: int, media_type: str, *, content_length: int | None = None
    ) -> None:
        headers = [(b"content-type", media_type.encode())]
        if content_length is not None:
            headers.append((b"content-length", str(content_length).encode()))
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        self.started = True

    async def write(self, data: bytes) -> None:
        if not self._head:
            await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self, data: bytes = b"") -> None:
        body = b"" if self._head else data
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def send_reply(self, reply: Reply) -> None:
        await self.start(reply.status, reply.media_type, content_length=len(reply.body))
        await self.finish(reply.body)

    async def pause(self, seconds: float) -> PauseResult:
        """Sleep up to `seconds`, ending early if the client leaves or the server closes."""
        deadline = time.monotonic() + seconds
        while True:
            if self.gone:
                return "gone"
            if self._closing.is_set():
                return "closing"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "elapsed"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._gone.wait(), timeout=min(remaining, _CLOSING_POLL_SECONDS)
                )

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._gone.set()
                return
