"""Ollama ``/api/chat`` NDJSON lines in, OpenAI chunks out.

Each line decodes into a typed Struct with one shared decoder, which skips every field we do not
read: unknown upstream fields can never reach a client. A line of the wrong shape, bad JSON, an
``{"error": ...}`` line or a line over the cap raises ``UpstreamStreamError``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from functions.chat.translate import errors
from functions.chat.translate.chunks import ChatStream, clean, tool_call_id


class _Function(msgspec.Struct):
    name: str = ""
    arguments: Any = None


class _ToolCall(msgspec.Struct):
    function: _Function


class _Message(msgspec.Struct):
    content: str | None = None
    thinking: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Line(msgspec.Struct):
    message: _Message | None = None
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    error: Any = None


_decode = msgspec.json.Decoder(_Line).decode
_encode = msgspec.json.Encoder().encode
# Ollama's done reasons that mean something to a client; the rest ("load", junk) read as "stop".
_FINISH = {"stop": "stop", "length": "length"}


class OllamaChatStream(ChatStream):
    """Fed each NDJSON line of one ``/api/chat`` answer (streamed or not: a non-streamed answer
    is one line with ``done: true``); returns the chunks to send for it."""

    def feed(self, line: bytes) -> list[dict[str, Any]]:
        self._admit(line)
        if self.done:
            return []
        try:
            item = _decode(line)
        except (msgspec.DecodeError, RecursionError) as exc:
            if not line.strip():
                return []
            raise errors.malformed(str(exc)) from None
        if item.error is not None:
            raise errors.upstream_reported(item.error)
        chunks: list[dict[str, Any]] = []
        delta: dict[str, Any] = {}
        message = item.message
        if message is not None:
            if message.thinking:
                thinking = clean(message.thinking)
                self._reasoning.append(thinking)
                delta["reasoning_content"] = thinking
            if message.content:
                content = clean(message.content)
                self._content.append(content)
                delta["content"] = content
            if message.tool_calls and self.tools_sent:
                delta["tool_calls"] = [self._tool_call(call) for call in message.tool_calls]
        if item.done:
            self.done = True
            self.prompt_tokens = item.prompt_eval_count or 0
            self.completion_tokens = item.eval_count or 0
            if self._tool_calls:
                self.finish_reason = "tool_calls"
            else:
                self.finish_reason = _FINISH.get(item.done_reason or "", "stop")
            chunks.append(self._chunk(delta, self.finish_reason))
        elif delta or not self._started:
            chunks.append(self._chunk(delta))
        return chunks

    def _tool_call(self, call: _ToolCall) -> dict[str, Any]:
        """An Ollama tool call (always whole) as an OpenAI tool-call delta."""
        arguments = call.function.arguments
        if isinstance(arguments, str):
            encoded = clean(arguments)
        else:
            encoded = _encode({} if arguments is None else arguments).decode()
        whole = {
            "id": tool_call_id(),
            "type": "function",
            "function": {"name": clean(call.function.name), "arguments": encoded},
        }
        index = len(self._tool_calls)
        self._tool_calls.append(whole)
        return {"index": index, **whole}
