"""An OpenAI chat request as an Ollama ``/api/chat`` body (API-CONTRACT.md §3).

Pure: no I/O, and nothing the client sends can name a host. Run it before a turn is saved, so
a request it refuses leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

import msgspec

from functions.chat.schemas.messages import (
    AssistantMessage,
    ImagePart,
    Message,
    ToolMessage,
    UserMessage,
    text_of,
)
from functions.chat.schemas.openai import (
    ChatCompletionRequest,
    JsonObjectFormat,
    JsonSchemaFormat,
    ResponseFormat,
)
from stratus.errors import BadRequestError

# Sampling options with the same name on both sides, passed only when the client set them.
# Penalties stay penalties: Ollama's repeat_penalty is a different knob (contract §3).
_SAME_NAME_OPTIONS = ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty")
# Model families whose `think` takes a level ("low"/"medium"/"high"); the rest take a boolean.
THINK_LEVEL_FAMILIES = ("gpt-oss",)
_decode_arguments = msgspec.json.Decoder(dict[str, Any]).decode


def ollama_chat_body(
    request: ChatCompletionRequest,
    *,
    upstream_model: str,
    num_ctx: int | None,
    keep_alive: str | int | None,
    stream: bool = True,
) -> dict[str, Any]:
    """The ``/api/chat`` body for ``request``, addressed to ``upstream_model``.

    ``stream`` is always explicit (Ollama's default is true). It defaults to true even for a
    client that wants one JSON answer: the engine relays, checkpoints and stops a stream the
    same way either way, and ``completion_object`` assembles the non-streamed answer.
    Raises ``BadRequestError`` naming the field for tool-call arguments that are not a JSON
    object, and for a tool message answering no earlier tool call.
    """
    body: dict[str, Any] = {
        "model": upstream_model,
        "messages": _messages(request.messages),
        "stream": stream,
    }
    options = _options(request)
    if num_ctx is not None:
        options["num_ctx"] = num_ctx
    if options:
        body["options"] = options
    if request.tools and request.tool_choice != "none":
        # Ollama reads OpenAI's tool shape as is. It cannot force a call, so "required" and a
        # named choice only offer the tools.
        body["tools"] = msgspec.to_builtins(request.tools)
    if (format_ := _format(request.response_format)) is not None:
        body["format"] = format_
    if (think := _think(request, upstream_model)) is not None:
        body["think"] = think
    if keep_alive is not None:
        body["keep_alive"] = _keep_alive(keep_alive)
    return body


def _options(request: ChatCompletionRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    limit = (
        request.max_completion_tokens
        if request.max_completion_tokens is not None
        else request.max_tokens
    )
    if limit is not None:
        options["num_predict"] = limit
    for name in _SAME_NAME_OPTIONS:
        value = getattr(request, name)
        if value is not None:
            options[name] = value
    stop = request.stop
    if stop:
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return options


def _format(response_format: ResponseFormat | None) -> str | dict[str, Any] | None:
    if isinstance(response_format, JsonObjectFormat):
        return "json"
    if isinstance(response_format, JsonSchemaFormat):
        schema = response_format.json_schema.schema
        # A json_schema without a schema still asks for JSON.
        return schema if schema is not None else "json"
    return None


def _think(request: ChatCompletionRequest, model: str) -> bool | str | None:
    """Ollama's ``think`` from ``think`` (passed as given) or ``reasoning_effort``.

    An effort becomes its level for the families that take one (gpt-oss; "minimal" is "low"),
    ``true`` for the rest; "none" turns thinking off.
    """
    if request.think is not None:
        return request.think
    effort = request.reasoning_effort
    if effort is None:
        return None
    if effort == "none":
        return False
    if takes_think_levels(model):
        return "low" if effort == "minimal" else effort
    return True


def takes_think_levels(model: str) -> bool:
    family = model.rsplit("/", 1)[-1].lower()
    return family.startswith(THINK_LEVEL_FAMILIES)


def _keep_alive(value: str | int) -> str | int:
    # Ollama reads a string as a Go duration ("5m"), so bare seconds must go as a number.
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def _messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    # tool_call_id -> function name, from the assistant turns seen so far.
    tool_names: dict[str, str] = {}
    for index, message in enumerate(messages):
        if isinstance(message, UserMessage):
            out.append(_user(message))
        elif isinstance(message, AssistantMessage):
            out.append(_assistant(message, index, tool_names))
        elif isinstance(message, ToolMessage):
            name = tool_names.get(message.tool_call_id)
            if name is None:
                field = f"messages[{index}].tool_call_id"
                raise BadRequestError(
                    f"Invalid request: {field}: must answer a tool call made by an earlier "
                    "assistant message.",
                    param=field,
                )
            out.append({"role": "tool", "content": text_of(message.content), "tool_name": name})
        else:
            # Ollama's templates know "system"; OpenAI's "developer" is the same instruction.
            out.append({"role": "system", "content": text_of(message.content)})
    return out


def _user(message: UserMessage) -> dict[str, Any]:
    content = message.content
    if isinstance(content, str):
        return {"role": "user", "content": content}
    images = [
        # Checked as a base64 data URL when the request was built: keep what follows the comma.
        part.image_url.url.partition(",")[2]
        for part in content
        if isinstance(part, ImagePart)
    ]
    result: dict[str, Any] = {"role": "user", "content": text_of(content)}
    if images:
        result["images"] = images
    return result


def _assistant(message: AssistantMessage, index: int, tool_names: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {"role": "assistant", "content": text_of(message.content)}
    if message.tool_calls:
        calls = []
        for call_index, call in enumerate(message.tool_calls):
            field = f"messages[{index}].tool_calls[{call_index}].function.arguments"
            arguments = _arguments(call.function.arguments, field)
            calls.append({"function": {"name": call.function.name, "arguments": arguments}})
            tool_names[call.id] = call.function.name
        result["tool_calls"] = calls
    return result


def _arguments(text: str, field: str) -> dict[str, Any]:
    if not text.strip():
        return {}  # Some clients send "" for a call without arguments.
    try:
        return _decode_arguments(text)
    except (msgspec.DecodeError, RecursionError):
        raise BadRequestError(
            f"Invalid request: {field}: must be a JSON object encoded as a string.",
            param=field,
        ) from None
