"""Ollama's request bodies, as clients send them to ``/ollama/api/...``: the same rules as ``/v1``.

Unknown top-level fields are refused (422 naming the field), and text refuses control
characters other than tab and line breaks (NUL included), as on ``/v1``. The fields are Ollama's
own (``docs/api.md`` and the official client's request types); the client sends only what it
set, so every field is optional but the model. ``name`` is the model's older spelling.

What reaches the GPU is decided after this, by ``translate.shared_gpu``: a valid body may
still have its ``keep_alive`` clamped and its hardware options dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from functions.chat.embeddings.schemas import MAX_INPUTS, Text
from functions.chat.schemas.messages import Name
from stratus.errors import ValidationError
from stratus.web.text import MultiLine, check_text

ModelName = Annotated[str, Meta(min_length=1, max_length=256)]
# A base64 image; 20 MiB is the GPU host proxy's own body limit.
Image = Annotated[str, Meta(max_length=20 * 1024 * 1024)]
# Seconds as a number (negative: forever), or a Go duration such as "5m" or "1h30m".
KeepAlive = int | float | str
OptionValue = int | float | bool | str | list[str]
Options = Annotated[dict[str, OptionValue], Meta(max_length=64)]
ThinkLevel = Literal["low", "medium", "high"]


class _Request(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    model: ModelName | None = None
    name: ModelName | None = None

    @property
    def model_name(self) -> str:
        name = self.model or self.name
        if not name:
            raise ValidationError("Invalid request: model: is required.", param="model")
        return name


class _Generation(_Request, kw_only=True):
    stream: bool | None = None
    options: Options | None = None
    keep_alive: KeepAlive | None = None
    format: str | dict[str, Any] | None = None
    think: bool | ThinkLevel | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.format, str) and self.format not in ("", "json"):
            raise ValidationError(
                'Invalid request: format: must be "json" or a JSON schema object.', param="format"
            )
        for key, value in (self.options or {}).items():
            check_text(key, "options", "single_line")
            if isinstance(value, str):
                check_text(value, f"options.{key}", "multi_line")
            elif isinstance(value, list):
                for item in value:
                    check_text(item, f"options.{key}", "multi_line")


class ToolFunctionCall(Struct, omit_defaults=True):
    name: Name
    arguments: dict[str, Any] | None = None
    index: int | None = None


class MessageToolCall(Struct, omit_defaults=True):
    function: ToolFunctionCall


class ChatMessage(Struct, omit_defaults=True, kw_only=True):
    """Like /v1's messages, a message ignores fields it does not know: one copied back from a
    response may carry more."""

    role: Literal["system", "user", "assistant", "tool"]
    content: MultiLine = ""
    thinking: MultiLine | None = None
    images: Annotated[list[Image], Meta(max_length=32)] | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_name: Name | None = None


class ChatRequest(_Generation, kw_only=True):
    # Empty: Ollama loads the model (or, with keep_alive 0, unloads it).
    messages: list[ChatMessage] = []
    tools: list[dict[str, Any]] | None = None


class GenerateRequest(_Generation, kw_only=True):
    prompt: MultiLine | None = None
    suffix: MultiLine | None = None
    system: MultiLine | None = None
    template: MultiLine | None = None
    context: Annotated[list[int], Meta(max_length=1_000_000)] | None = None
    raw: bool | None = None
    images: Annotated[list[Image], Meta(max_length=32)] | None = None


class EmbedRequest(_Request, kw_only=True):
    # Unpatterned in the union (msgspec, see chat's messages.py); checked below. The same
    # count limit as /v1/embeddings.
    input: Text | Annotated[list[Text], Meta(min_length=1, max_length=MAX_INPUTS)]
    truncate: bool | None = None
    options: Options | None = None
    keep_alive: KeepAlive | None = None
    dimensions: Annotated[int, Meta(ge=1)] | None = None

    def __post_init__(self) -> None:
        texts = [self.input] if isinstance(self.input, str) else self.input
        for index, text in enumerate(texts):
            check_text(
                text, "input" if isinstance(self.input, str) else f"input[{index}]", "multi_line"
            )


class EmbeddingsRequest(_Request, kw_only=True):
    """The legacy single-prompt ``/api/embeddings``."""

    prompt: Annotated[MultiLine, Meta(max_length=1_000_000)] = ""
    options: Options | None = None
    keep_alive: KeepAlive | None = None


class ShowRequest(_Request, kw_only=True):
    verbose: bool | None = None
