"""A stand-in for the app's side of scale to zero, for the web client's tests.

The app holds a streamed completion while the model host wakes: ``200 text/event-stream`` at
once, then ``: model host starting`` comment lines until the host answers, then the normal
stream (the contract in the lead engineer's scale-to-zero notes; the app side is built
separately). This ASGI wrapper does exactly that in front of the real app: each streamed
completion's events are held back for ``hold`` seconds while the comment goes out at once and
every ``every`` seconds; then everything the app sent meanwhile, and the rest as it comes.
Every other request passes straight through.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

COMPLETION_PATHS = frozenset({"/api/chat/completions", "/v1/chat/completions"})
COMMENT = b": model host starting\n\n"

Message = dict[str, Any]


class HostStartingStandIn:
    def __init__(self, app: Any, *, hold: float, every: float = 1.0) -> None:
        self.app = app
        self.hold = hold
        self.every = every

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in COMPLETION_PATHS:
            await self.app(scope, receive, send)
            return
        queue: asyncio.Queue[Message] = asyncio.Queue()
        inner = asyncio.create_task(self.app(scope, receive, queue.put))
        try:
            start = await queue.get()
            headers = dict(start.get("headers", []))
            streamed = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            await send(start)
            if streamed and start["status"] == 200:
                await self._comments_while_held(send)
            while True:
                message = await queue.get()
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    break
            await inner
        finally:
            inner.cancel()

    async def _comments_while_held(self, send: Any) -> None:
        until = time.monotonic() + self.hold
        while (left := until - time.monotonic()) > 0:
            await send({"type": "http.response.body", "body": COMMENT, "more_body": True})
            await asyncio.sleep(min(self.every, left))
