"""The bare streaming proxy floor: a raw ASGI route, msgspec and aiohttp, nothing else.

No auth, no database, no registry: Ollama NDJSON in, OpenAI SSE out. The chat benchmark runs it
under the same uvicorn command as the gateway, so the gateway's CPU can be read against what
Python itself needs to relay the same stream. ``BARE_UPSTREAM`` names the Ollama host.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import aiohttp
import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_state: dict[str, Any] = {}


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
            else:
                await _state["session"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = _decode(body)
    upstream = {"model": request["model"], "messages": request["messages"], "stream": True}
    base: dict[str, Any] = {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request["model"],
    }
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream")],
        }
    )
    first = True
    url = os.environ["BARE_UPSTREAM"] + "/api/chat"
    async with _state["session"].post(url, data=_encode(upstream)) as response:
        async for line in response.content:
            if not line.strip():
                continue
            item = _decode(line)
            delta: dict[str, Any] = {"content": item.get("message", {}).get("content", "")}
            if first:
                delta["role"] = "assistant"
                first = False
            reason = "stop" if item.get("done") else None
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
            out = b"data: " + _encode(chunk) + b"\n\n"
            await send({"type": "http.response.body", "body": out, "more_body": True})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
