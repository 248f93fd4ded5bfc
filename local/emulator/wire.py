"""Byte-level conventions of the two APIs: JSON encoding, timestamps, stream framing, errors.

Ollama streams NDJSON (one object per line) and reports errors as `{"error": "..."}`;
its OpenAI-compatible layer streams server-sent events and nests errors OpenAI-style.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Flavor = Literal["ollama", "openai"]

JSON_MEDIA_TYPE = "application/json; charset=utf-8"
SSE_DONE = b"data: [DONE]\n\n"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_rfc3339() -> str:
    return rfc3339(datetime.now(UTC))


def error_payload(flavor: Flavor, status: int, message: str) -> dict[str, Any]:
    if flavor == "ollama":
        return {"error": message}
    # The type names Ollama's OpenAI layer uses (openai/openai.go NewError).
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def flavor_of(path: str) -> Flavor:
    return "openai" if path == "/v1" or path.startswith("/v1/") else "ollama"


@dataclass(frozen=True)
class Dialect:
    flavor: Flavor

    @property
    def media_type(self) -> str:
        return "application/x-ndjson" if self.flavor == "ollama" else "text/event-stream"

    def frame(self, payload: Mapping[str, Any]) -> bytes:
        if self.flavor == "ollama":
            return dumps(payload) + b"\n"
        return b"data: " + dumps(payload) + b"\n\n"

    def error_frame(self, message: str) -> bytes:
        return self.frame(error_payload(self.flavor, 500, message))

    def torn_frame(self, frame: bytes) -> bytes:
        """The first half of `frame`'s JSON, still framed, as a truncated write would leave it.

        Any strict prefix of a JSON object is invalid JSON: its closing brace is missing.
        """
        if self.flavor == "ollama":
            payload = frame.rstrip(b"\n")
            return payload[: len(payload) // 2] + b"\n"
        payload = frame.removeprefix(b"data: ").rstrip(b"\n")
        return b"data: " + payload[: len(payload) // 2] + b"\n\n"


OLLAMA = Dialect("ollama")
OPENAI = Dialect("openai")
