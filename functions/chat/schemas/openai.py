"""The OpenAI chat completions request, as clients send it to ``/v1/chat/completions`` and
``/api/chat/completions``.

Unknown top-level fields are refused (422 naming the field), so a typo such as ``max_token`` is
never silently ignored. What OpenAI's SDK and Open WebUI commonly send but we have no use for is
accepted and ignored: ``IGNORED_FIELDS``. Client-supplied routing (``ROUTING_FIELDS``) gets a 400
naming the field: the upstream is always one the operator configured. Ranges are declared on the
fields (OpenAPI shows them; the error mapper words them); the rules no annotation can express
live in ``policy.py`` and run whenever a request is built, decoded or constructed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from functions.chat.schemas import policy
from functions.chat.schemas.messages import Id, Message, Name
from stratus.web.text import MultiLine

Temperature = Annotated[float, Meta(ge=0.0, le=2.0)]
TopP = Annotated[float, Meta(ge=0.0, le=1.0)]
Penalty = Annotated[float, Meta(ge=-2.0, le=2.0)]
TokenLimit = Annotated[int, Meta(ge=1)]
StopText = Annotated[MultiLine, Meta(min_length=1, max_length=256)]
# Unpatterned where it shares a union with a list (see messages.py); policy.py checks it.
StopString = Annotated[str, Meta(min_length=1, max_length=256)]
ModelName = Annotated[str, Meta(min_length=1, max_length=256)]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high"]
ThinkLevel = Literal["low", "medium", "high"]

_IGNORED = Annotated[Any, Meta(description="Accepted for compatibility and ignored.")]
_REFUSED = Annotated[
    Any, Meta(description="Refused with 400: the gateway chooses the upstream itself.")
]


class StreamOptions(Struct):
    include_usage: bool = False


class FunctionDefinition(Struct, omit_defaults=True):
    name: Name
    description: MultiLine | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Struct):
    function: FunctionDefinition
    type: Literal["function"] = "function"


class NamedFunction(Struct):
    name: Name


class NamedToolChoice(Struct):
    function: NamedFunction
    type: Literal["function"] = "function"


class TextFormat(Struct, tag_field="type", tag="text"):
    pass


class JsonObjectFormat(Struct, tag_field="type", tag="json_object"):
    pass


class JsonSchemaSpec(Struct, omit_defaults=True):
    name: Name | None = None
    description: MultiLine | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class JsonSchemaFormat(Struct, tag_field="type", tag="json_schema"):
    json_schema: JsonSchemaSpec


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat


class FileRef(Struct):
    """Open WebUI's ``files`` entry: a file or a knowledge collection to retrieve from."""

    type: Literal["file", "collection"]
    id: Id


class ChatCompletionRequest(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    model: ModelName
    messages: Annotated[list[Message], Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: TokenLimit | None = None
    max_completion_tokens: TokenLimit | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    seed: int | None = None
    stop: StopString | Annotated[list[StopText], Meta(max_length=16)] | None = None
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    n: Annotated[int, Meta(ge=1)] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: ReasoningEffort | None = None
    user: Name | None = None
    # Ollama's own switch, passed through as given (a level only helps models that take one).
    think: bool | ThinkLevel | None = None

    # Extensions (Open WebUI's and ours).
    chat_id: Id | None = None
    # The client's id for the assistant message: the turn's idempotency key.
    id: Id | None = None
    parent_id: Id | None = None
    # The new question starts a branch at the top of the chat (an edited first question).
    at_root: bool = False
    user_message_id: Id | None = None
    files: list[FileRef] | None = None

    # Accepted and ignored: IGNORED_FIELDS.
    logprobs: _IGNORED = None
    top_logprobs: _IGNORED = None
    logit_bias: _IGNORED = None
    metadata: _IGNORED = None
    store: _IGNORED = None
    service_tier: _IGNORED = None
    modalities: _IGNORED = None
    audio: _IGNORED = None
    prediction: _IGNORED = None
    web_search_options: _IGNORED = None
    prompt_cache_key: _IGNORED = None
    prompt_cache_retention: _IGNORED = None
    safety_identifier: _IGNORED = None
    verbosity: _IGNORED = None
    keep_alive: _IGNORED = None
    session_id: _IGNORED = None
    features: _IGNORED = None
    variables: _IGNORED = None
    background_tasks: _IGNORED = None
    params: _IGNORED = None
    tool_ids: _IGNORED = None
    tool_servers: _IGNORED = None
    model_item: _IGNORED = None
    filter_ids: _IGNORED = None

    # Refused: ROUTING_FIELDS and UNSUPPORTED_FIELDS.
    api_base: _REFUSED = None
    base_url: _REFUSED = None
    api_key: _REFUSED = None
    custom_llm_provider: _REFUSED = None
    url: _REFUSED = None
    host: _REFUSED = None
    functions: _REFUSED = None
    function_call: _REFUSED = None

    def __post_init__(self) -> None:
        policy.check(self)


IGNORED_FIELDS = (
    # OpenAI
    "logprobs",
    "top_logprobs",
    "logit_bias",
    "metadata",
    "store",
    "service_tier",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "prompt_cache_key",
    "prompt_cache_retention",
    "safety_identifier",
    "verbosity",
    # Ollama's, which a client must not set on a shared GPU: the operator configures it.
    "keep_alive",
    # Open WebUI's front end
    "session_id",
    "features",
    "variables",
    "background_tasks",
    "params",
    "tool_ids",
    "tool_servers",
    "model_item",
    "filter_ids",
)
