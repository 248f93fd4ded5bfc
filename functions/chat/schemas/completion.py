"""What ``/v1/chat/completions`` answers: the non-streamed ``chat.completion``, the streamed
``chat.completion.chunk`` and the error object, as OpenAI's SDK parses them.

The hot path builds plain dicts (``functions.chat.translate``) and encodes them with one shared
encoder; these Structs are the documented contract (OpenAPI) and the tests convert every dict
the translators make into them, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, Struct, UnsetType

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


class Usage(Struct, forbid_unknown_fields=True, omit_defaults=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    # Present (true) when the upstream never counted them: estimated from what was relayed.
    estimated: bool | None = None


class ResponseFunctionCall(Struct, forbid_unknown_fields=True):
    name: str
    # A JSON object encoded as a string, as OpenAI sends it.
    arguments: str


class ResponseToolCall(Struct, forbid_unknown_fields=True):
    id: str
    type: Literal["function"]
    function: ResponseFunctionCall


class ResponseMessage(Struct, forbid_unknown_fields=True, omit_defaults=True):
    role: Literal["assistant"]
    content: str | None
    # A reasoning model's thinking, kept apart from the answer.
    reasoning_content: str | UnsetType = UNSET
    tool_calls: list[ResponseToolCall] | UnsetType = UNSET


class Choice(Struct, forbid_unknown_fields=True):
    index: int
    message: ResponseMessage
    finish_reason: FinishReason


class Source(Struct, forbid_unknown_fields=True):
    """A retrieved chunk the answer was grounded on (``files`` on the request)."""

    id: str
    file_id: str
    name: str
    # The chunk's 0-based place in its file.
    position: int
    score: float
    similarity: float | None
    text: str


class ChatCompletion(Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    # Only when the request named ``files``: the sources, numbered as in the prompt ([1] first).
    sources: list[Source] | UnsetType = UNSET


class FunctionDelta(Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET


class ToolCallDelta(Struct, forbid_unknown_fields=True, omit_defaults=True):
    index: int
    # id, type and the name arrive with a call's first delta; later ones add arguments.
    id: str | UnsetType = UNSET
    type: Literal["function"] | UnsetType = UNSET
    function: FunctionDelta | UnsetType = UNSET


class Delta(Struct, forbid_unknown_fields=True, omit_defaults=True):
    # Only in a stream's first chunk.
    role: Literal["assistant"] | UnsetType = UNSET
    content: str | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET
    tool_calls: list[ToolCallDelta] | UnsetType = UNSET


class ChunkChoice(Struct, forbid_unknown_fields=True):
    index: int
    delta: Delta
    finish_reason: FinishReason | None


class ChatCompletionChunk(Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    # Empty only in the usage chunk that `stream_options.include_usage` adds at the end.
    choices: list[ChunkChoice]
    # null on every chunk but that last one when the client asked for usage; absent otherwise.
    usage: Usage | UnsetType | None = UNSET
    # On the first chunk only, when the request named ``files``.
    sources: list[Source] | UnsetType = UNSET


class ErrorDetail(Struct, forbid_unknown_fields=True):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(Struct, forbid_unknown_fields=True):
    """Before a stream: the body of a non-2xx answer. During one: a `data:` event, then close."""

    error: ErrorDetail
