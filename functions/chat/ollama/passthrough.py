"""Ollama's NDJSON, relayed line for line: only checked (JSON objects, caps) and counted."""

from __future__ import annotations

from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode


class PassthroughError(Exception):
    """The host sent an error line or something that is not an Ollama line."""


class NDJSONPassthrough:
    """The relay's translator for ``/ollama/api/chat`` and ``/ollama/api/generate``."""

    def __init__(self) -> None:
        self.content = ""
        self.reasoning = ""
        self.tool_calls: list[dict[str, Any]] = []
        self.finish_reason: str | None = None
        self.done = False
        self.chunks_seen = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0

    def feed(self, line: bytes) -> list[bytes]:
        try:
            item = _decode(line)
        except msgspec.DecodeError:
            raise PassthroughError("The model host sent a line that is not JSON.") from None
        if not isinstance(item, dict):
            raise PassthroughError("The model host sent a line that is not a JSON object.")
        error = item.get("error")
        if error is not None:
            raise PassthroughError(str(error)[:300])
        self.chunks_seen += 1
        if item.get("done") is True:
            self.done = True
            self.finish_reason = str(item.get("done_reason") or "stop")
            self._prompt_tokens = _count(item.get("prompt_eval_count"))
            self._completion_tokens = _count(item.get("eval_count"))
        return [line]

    def usage(self) -> dict[str, int]:
        completion = self._completion_tokens if self.done else self.chunks_seen
        return {
            "prompt_tokens": self._prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self._prompt_tokens + completion,
        }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
