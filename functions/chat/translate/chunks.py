"""OpenAI chunks, built the same way whatever the upstream speaks.

One ``ChatStream`` per generation. It stamps every chunk with the same ``id``, ``created`` and
``model``, puts ``role`` in the first delta only, adds ``usage: null`` when the client asked for
usage, and keeps what the engine persists: the answer, the reasoning, the tool calls, the finish
reason and the token counts. Per chunk it builds one small dict and nothing else.
"""

from __future__ import annotations

import secrets
from typing import Any

from functions.chat.translate import errors, usage_estimate
from stratus.errors import StratusError

CHUNK_OBJECT = "chat.completion.chunk"
DEFAULT_MAX_LINE_BYTES = 1 << 20
DEFAULT_MAX_RESPONSE_BYTES = 32 << 20
_FIRST_DELTA = {"role": "assistant", "content": ""}


def tool_call_id() -> str:
    """A fresh ``call_...`` id: upstream ids are never forwarded, so a hostile one can't be."""
    return "call_" + secrets.token_hex(12)


def clean(text: str) -> str:
    """``text`` without NUL: Postgres refuses it in text, and it means nothing to a client."""
    return text.replace("\x00", "") if "\x00" in text else text


class ChatStream:
    """The state and chunk building both stream translators share."""

    def __init__(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        tools_sent: bool,
        include_usage: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model
        # Tool calls from an upstream the client offered no tools to are dropped, not relayed.
        self.tools_sent = tools_sent
        self.include_usage = include_usage
        self.max_line_bytes = max_line_bytes
        self.max_response_bytes = max_response_bytes
        self.finish_reason: str | None = None
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.done = False
        # Retrieved sources (``files`` on the request): on the first chunk and the whole answer.
        self.sources: list[dict[str, Any]] | None = None
        self._tool_calls: list[dict[str, Any]] = []
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._started = False
        self._received = 0
        # For an answer cut off before the upstream counted it (usage_estimate): the prompt's
        # size (set by the engine) and what was relayed.
        self.prompt_estimate = 0
        self._relayed_chunks = 0
        self._relayed_chars = 0

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """As persisted and as the non-streamed answer carries them (OpenAI's shape, no index)."""
        return self._tool_calls

    @property
    def started(self) -> bool:
        """Whether a chunk has gone out (so an error now must be an event, not a status)."""
        return self._started

    @property
    def usage_estimated(self) -> bool:
        """True until the upstream reported its counts (its last line, or a usage event)."""
        return not (self.prompt_tokens or self.completion_tokens)

    def usage(self) -> dict[str, int]:
        prompt, completion = self.prompt_tokens, self.completion_tokens
        if self.usage_estimated:
            prompt = self.prompt_estimate
            completion = usage_estimate.completion_tokens(self._relayed_chunks, self._relayed_chars)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def closing_chunk(self, finish_reason: str = "stop") -> dict[str, Any]:
        """The last chunk when the gateway ends the answer itself (a stop, the time limit)."""
        if self.finish_reason is None:
            self.finish_reason = finish_reason
        return self._chunk({}, self.finish_reason)

    def _admit(self, data: bytes) -> None:
        size = len(data)
        if size > self.max_line_bytes:
            raise errors.line_too_large(size, self.max_line_bytes)
        self._received += size
        if self._received > self.max_response_bytes:
            raise errors.answer_too_large(self.max_response_bytes)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        if delta:
            self._count(delta)
        if not self._started:
            self._started = True
            delta = {"role": "assistant", **delta} if delta else dict(_FIRST_DELTA)
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": CHUNK_OBJECT,
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            chunk["usage"] = None
        if self.sources is not None and "role" in delta:
            chunk["sources"] = self.sources
        return chunk

    def _count(self, delta: dict[str, Any]) -> None:
        chars = len(delta.get("content") or "") + len(delta.get("reasoning_content") or "")
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            chars += len(function.get("name") or "") + len(function.get("arguments") or "")
        if chars:
            self._relayed_chunks += 1
            self._relayed_chars += chars


def usage_of(stream: Any) -> dict[str, Any]:
    """The usage object a client sees: OpenAI's counts, with ``estimated: true`` when the
    upstream never reported them (usage_estimate)."""
    usage: dict[str, Any] = stream.usage()
    if getattr(stream, "usage_estimated", False):
        usage["estimated"] = True
    return usage


def usage_chunk(stream: ChatStream) -> dict[str, Any]:
    """The chunk ``stream_options.include_usage`` adds just before ``[DONE]``."""
    return {
        "id": stream.completion_id,
        "object": CHUNK_OBJECT,
        "created": stream.created,
        "model": stream.model,
        "choices": [],
        "usage": usage_of(stream),
    }


def completion_object(stream: ChatStream, *, finish_reason: str | None = None) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` for what ``stream`` gathered.

    ``finish_reason`` overrides the upstream's (say, "stop" for an answer the user stopped).
    """
    message: dict[str, Any] = {"role": "assistant", "content": stream.content}
    if stream.reasoning:
        message["reasoning_content"] = stream.reasoning
    if stream.tool_calls:
        message["tool_calls"] = stream.tool_calls
        # OpenAI's shape: a turn that is only tool calls has no content.
        message["content"] = message["content"] or None
    return {
        "id": stream.completion_id,
        "object": "chat.completion",
        "created": stream.created,
        "model": stream.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason or stream.finish_reason or "stop",
            }
        ],
        "usage": usage_of(stream),
        **({"sources": stream.sources} if stream.sources is not None else {}),
    }


def error_payload(
    message: str, error_type: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object: a non-2xx body before a stream, a ``data:`` event during one."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_payload_for(error: StratusError) -> dict[str, Any]:
    return error_payload(error.message, error.error_type, param=error.param, code=error.code)
