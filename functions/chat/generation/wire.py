"""How a stream is framed for its client: OpenAI's server-sent events or Ollama's NDJSON.

The relay is the same for both; only the framing of chunks, errors and the end differs.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from functions.chat.generation import sse
from functions.chat.generation.outcome import FINISH_REASON, Ending
from functions.chat.translate import usage_chunk

_encode = msgspec.json.Encoder().encode


class Wire(Protocol):
    headers: list[tuple[bytes, bytes]]
    # What keeps a stream alive while the model host wakes; b"" where the format has no comments.
    heartbeat: bytes

    def encode(self, chunks: list[Any]) -> bytes: ...
    def error(self, message: str, code: str | None) -> bytes: ...
    def closing(self, ending: Ending, translator: Any, include_usage: bool) -> bytes: ...
    def tail(self, ending: Ending) -> bytes: ...


class SSEWire:
    """OpenAI chat completion chunks: ``data: {...}`` events, ``data: [DONE]`` on success and a
    ``data: {"error": ...}`` event without ``[DONE]`` on failure (the official SDK raises)."""

    headers = sse.HEADERS
    heartbeat = sse.HOST_STARTING

    def encode(self, chunks: list[Any]) -> bytes:
        return sse.events(chunks)

    def error(self, message: str, code: str | None) -> bytes:
        return sse.error_event(message, error_type="upstream_error", code=code)

    def closing(self, ending: Ending, translator: Any, include_usage: bool) -> bytes:
        chunks = []
        if ending in FINISH_REASON:
            chunks.append(translator.closing_chunk(FINISH_REASON[ending]))
        if include_usage and ending is not Ending.ERROR:
            chunks.append(usage_chunk(translator))
        return sse.events(chunks) if chunks else b""

    def tail(self, ending: Ending) -> bytes:
        return b"" if ending is Ending.ERROR else sse.DONE


class NDJSONWire:
    """Ollama's own lines, relayed as they came; our own errors as Ollama's ``{"error": ...}``."""

    heartbeat = b""

    def __init__(self, content_type: bytes = b"application/x-ndjson") -> None:
        # A non-streamed Ollama answer is one JSON line: the same relay, another media type.
        self.headers = [(b"content-type", content_type), (b"x-accel-buffering", b"no")]

    def encode(self, chunks: list[Any]) -> bytes:
        return b"".join(line + b"\n" for line in chunks)

    def error(self, message: str, code: str | None) -> bytes:
        return _encode({"error": message}) + b"\n"

    def closing(self, ending: Ending, translator: Any, include_usage: bool) -> bytes:
        return b""

    def tail(self, ending: Ending) -> bytes:
        return b""
