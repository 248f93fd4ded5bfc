"""A pass-through proxy in front of the model-host emulator that fails chosen embedding calls.

The emulator's own faults apply to every call alike; a failure "at chunk k" needs the first
calls to succeed and a later one to fail. This proxy counts ``POST /api/embed`` calls and
answers 503 (as a model host under load does) to the ones listed in ``fail_calls``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.asgi import read_body
from tests.support.live_server import live_server


@dataclass
class EmbedFaults:
    upstream: str
    fail_calls: set[int] = field(default_factory=set)
    fail_all: bool = False
    # Seconds each embedding call is held before it is forwarded: makes two workers overlap.
    delay: float = 0.0
    calls: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if scope["path"] == "/api/embed":
            self.calls += 1
            if self.delay:
                import asyncio

                await asyncio.sleep(self.delay)
            if self.fail_all or self.calls in self.fail_calls:
                await _answer(send, 503, b'{"error": "overloaded"}')
                return
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k != b"host"}
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as client:
            response = await client.request(
                scope["method"], scope["path"], content=body, headers=headers
            )
        await _answer(send, response.status_code, response.content)


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def embed_fault_proxy(upstream: str) -> Iterator[tuple[str, EmbedFaults]]:
    faults = EmbedFaults(upstream)
    with live_server(faults, lifespan="off") as server:
        yield server.base_url, faults
