"""Server-sent events as OpenAI clients read them: ``data: <json>\\n\\n``, ending ``[DONE]``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode

DONE = b"data: [DONE]\n\n"
# An SSE comment: clients skip it, proxies see bytes (scale-to-zero's hold, SCALE-TO-ZERO).
HOST_STARTING = b": model host starting\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # nginx and similar proxies would otherwise buffer the stream.
    (b"x-accel-buffering", b"no"),
]


def events(chunks: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + _encode(chunk) + b"\n\n" for chunk in chunks)


def error_event(message: str, *, error_type: str, code: str | None) -> bytes:
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return b"data: " + _encode(body) + b"\n\n"
