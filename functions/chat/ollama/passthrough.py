"""Ollama's NDJSON, relayed line for line: only checked (JSON objects, caps) and counted."""

from __future__ import annotations

from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode


class PassthroughError(Exception):
    """The host sent an error line or something that is not an Ollama line."""


class NDJSONPassthrough:
    """The relay's translator for ``/ollama/api/chat`` and ``/ollama/api/generate``."""

    def __init__(self, prompt_estimate: int = 0) -> None:
        self.prompt_estimate = prompt_estimate
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
        except (msgspec.DecodeError, RecursionError):
            raise PassthroughError("The model host sent a line that is not JSON.") from None
        if not isinstance(item, dict):
            raise PassthroughError("The model host sent a line that is not a JSON object.")
        error = item.get("error")
        if error is not None:
            raise PassthroughError(str(error)[:300])
        if item.get("done") is True:
            self.done = True
            self.finish_reason = str(item.get("done_reason") or "stop")
            self._prompt_tokens = _count(item.get("prompt_eval_count"))
            self._completion_tokens = _count(item.get("eval_count"))
        else:
            # One token per line is how Ollama streams: what was relayed, should the line with
            # the counts never come (usage_estimate).
            self.chunks_seen += 1
        return [line]

    @property
    def usage_estimated(self) -> bool:
        return not (self._prompt_tokens or self._completion_tokens)

    def usage(self) -> dict[str, int]:
        if self.usage_estimated:
            prompt, completion = self.prompt_estimate, self.chunks_seen
        else:
            prompt, completion = self._prompt_tokens, self._completion_tokens
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
