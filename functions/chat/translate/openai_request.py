"""An OpenAI chat request as the body for an OpenAI-compatible upstream.

Known fields only: our extensions (``chat_id``, ``id``, ``files``...), Ollama's ``think`` and
everything accepted-and-ignored stay here. The upstream always streams and reports usage, so the
engine relays, stops and counts tokens the same way for every upstream.
"""

from __future__ import annotations

from typing import Any

import msgspec

from functions.chat.schemas.messages import DeveloperMessage, Message, SystemMessage
from functions.chat.schemas.openai import ChatCompletionRequest

# Forwarded when the client set them (n is always 1, so it is left to the upstream's default).
FORWARDED_FIELDS = (
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
)


def openai_chat_body(request: ChatCompletionRequest, *, upstream_model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": upstream_model,
        "messages": msgspec.to_builtins(_compatible(request.messages)),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    for name in FORWARDED_FIELDS:
        value = getattr(request, name)
        if value is not None:
            body[name] = msgspec.to_builtins(value)
    return body


def _compatible(messages: list[Message]) -> list[Message]:
    # Many OpenAI-compatible servers predate "developer"; every one knows "system", and OpenAI
    # itself treats a system message as the developer's for the models that use that role.
    return [
        SystemMessage(content=message.content, name=message.name)
        if isinstance(message, DeveloperMessage)
        else message
        for message in messages
    ]
