"""An OpenAI-compatible upstream's SSE events in, our OpenAI chunks out.

Fed the ``data:`` payload of each event. Only known delta fields are relayed (``content``,
``tool_calls``, ``reasoning_content``, and ``reasoning`` as ``reasoning_content``); ``id``,
``created`` and ``model`` are ours; ``usage`` is kept for the engine, not relayed. Tool calls get
our own ids and indexes, so nothing the upstream chose for them reaches the client.
"""

from __future__ import annotations

from typing import Any

import msgspec

from functions.chat.translate import errors
from functions.chat.translate.chunks import (
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    ChatStream,
    clean,
    tool_call_id,
)


class _FunctionDelta(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCallDelta(msgspec.Struct):
    index: int = 0
    function: _FunctionDelta | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    # What Ollama's and vLLM's OpenAI layers call it.
    reasoning: str | None = None
    tool_calls: list[_ToolCallDelta] | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Event(msgspec.Struct):
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: Any = None


_decode = msgspec.json.Decoder(_Event).decode
_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# More calls than any model makes in one turn: past this the upstream is misbehaving.
MAX_TOOL_CALLS = 128


class _Call:
    __slots__ = ("arguments", "id", "name")

    def __init__(self, name: str, arguments: str) -> None:
        self.id = tool_call_id()
        # Fragments, joined when read: appending to one string would be quadratic.
        self.name = [name]
        self.arguments = [arguments]


class OpenAIChatStream(ChatStream):
    """Fed each SSE ``data:`` payload (``[DONE]`` included) of one streamed completion."""

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
        super().__init__(
            completion_id=completion_id,
            created=created,
            model=model,
            tools_sent=tools_sent,
            include_usage=include_usage,
            max_line_bytes=max_line_bytes,
            max_response_bytes=max_response_bytes,
        )
        self._calls: list[_Call] = []
        # The upstream's tool-call index -> ours (ours count from 0 in order of appearance).
        self._slots: dict[int, int] = {}

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "".join(call.name), "arguments": "".join(call.arguments)},
            }
            for call in self._calls
        ]

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._admit(data)
        if self.done:
            return []
        if data.startswith(b"[DONE]"):
            self.done = True
            return []
        try:
            event = _decode(data)
        except (msgspec.DecodeError, RecursionError) as exc:
            if not data.strip():
                return []
            raise errors.malformed(str(exc)) from None
        if event.error is not None:
            error = event.error
            message = error.get("message") if isinstance(error, dict) else error
            raise errors.upstream_reported(message)
        if event.usage is not None:
            self.prompt_tokens = event.usage.prompt_tokens or 0
            self.completion_tokens = event.usage.completion_tokens or 0
        chunks: list[dict[str, Any]] = []
        for choice in event.choices or ():
            if choice.index != 0:
                continue  # We ask for one choice; others are not the client's.
            delta: dict[str, Any] = {}
            upstream = choice.delta
            if upstream is not None:
                reasoning = upstream.reasoning_content or upstream.reasoning
                if reasoning:
                    reasoning = clean(reasoning)
                    self._reasoning.append(reasoning)
                    delta["reasoning_content"] = reasoning
                if upstream.content:
                    content = clean(upstream.content)
                    self._content.append(content)
                    delta["content"] = content
                if upstream.tool_calls and self.tools_sent:
                    delta["tool_calls"] = [self._tool_call(call) for call in upstream.tool_calls]
            finish = None
            if choice.finish_reason is not None and self.finish_reason is None:
                finish = _FINISH.get(choice.finish_reason, "stop")
                if finish == "stop" and self._calls:
                    finish = "tool_calls"
                self.finish_reason = finish
            if delta or finish or not self._started:
                chunks.append(self._chunk(delta, finish))
        return chunks

    def _tool_call(self, upstream: _ToolCallDelta) -> dict[str, Any]:
        function = upstream.function
        name = clean(function.name) if function is not None and function.name else ""
        arguments = clean(function.arguments) if function is not None and function.arguments else ""
        slot = self._slots.get(upstream.index)
        if slot is None:
            if len(self._calls) >= MAX_TOOL_CALLS:
                raise errors.malformed(f"more than {MAX_TOOL_CALLS} tool calls")
            slot = self._slots[upstream.index] = len(self._calls)
            call = _Call(name, arguments)
            self._calls.append(call)
            return {
                "index": slot,
                "id": call.id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        call = self._calls[slot]
        fragment: dict[str, str] = {}
        if name:
            call.name.append(name)
            fragment["name"] = name
        if arguments:
            call.arguments.append(arguments)
            fragment["arguments"] = arguments
        return {"index": slot, "function": fragment}
