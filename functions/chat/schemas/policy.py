"""The request rules no field annotation can express, with plain-words errors naming the field.

They run in ``ChatCompletionRequest.__post_init__``, so they hold however a request is made:
decoded by Litestar, by ``msgspec``, or built in code. Errors raised here are our own typed
errors, which msgspec passes through untouched, so the shared error mapper answers them as is.
"""

from __future__ import annotations

import binascii
import re
from typing import TYPE_CHECKING

from functions.chat.schemas.messages import ImagePart, UserMessage
from stratus.errors import BadRequestError, ValidationError
from stratus.web.text import check_text

if TYPE_CHECKING:
    from functions.chat.schemas.openai import ChatCompletionRequest

# The outbound host is always a configured upstream; these would let a client choose one.
ROUTING_FIELDS = ("api_base", "base_url", "api_key", "custom_llm_provider", "url", "host")
# The legacy function-calling form: refusing it beats silently dropping the caller's functions.
UNSUPPORTED_FIELDS = ("functions", "function_call")

# A model name never holds a scheme, spaces or control characters: `http://host/m` must not
# read as "this model, at that host".
_BAD_MODEL = re.compile(r"://|[\s\x00-\x1f\x7f-\x9f]")
# What Ollama's own OpenAI layer decodes: png, jpeg or webp, or no media type at all.
_DATA_URL = re.compile(r"data:(?:image/(?:png|jpe?g|webp))?;base64,", re.IGNORECASE)


def check(request: ChatCompletionRequest) -> None:
    for field in ROUTING_FIELDS:
        if getattr(request, field) is not None:
            raise BadRequestError(
                f"Invalid request: {field}: client-supplied routing is not accepted; requests "
                "always go to the model hosts this gateway is configured with.",
                param=field,
            )
    for field in UNSUPPORTED_FIELDS:
        if getattr(request, field) is not None:
            raise BadRequestError(
                f"Invalid request: {field}: the legacy functions form is not supported; "
                "send tools and tool_choice instead.",
                param=field,
            )
    if _BAD_MODEL.search(request.model):
        raise ValidationError(
            "Invalid request: model: must be a model name such as llama3.2:3b, without "
            "'://', spaces or control characters.",
            param="model",
        )
    if request.n is not None and request.n > 1:
        raise BadRequestError("Invalid request: n: only one choice (n=1) is supported.", param="n")
    # The string halves of `str | list` unions, which cannot carry a pattern (messages.py).
    for index, message in enumerate(request.messages):
        if isinstance(message.content, str):
            check_text(message.content, f"messages[{index}].content", "multi_line")
    if isinstance(request.stop, str):
        check_text(request.stop, "stop", "multi_line")
    _check_images(request)


def image_payload(url: str) -> str | None:
    """The base64 payload of an image ``data:`` URL, or None when it is anything else."""
    match = _DATA_URL.match(url)
    if match is None:
        return None
    payload = url[match.end() :]
    try:
        # Strict: no whitespace, correct padding; what Ollama accepts as `images`.
        if not payload or not binascii.a2b_base64(payload.encode("ascii"), strict_mode=True):
            return None
    except (binascii.Error, UnicodeEncodeError):
        return None
    return payload


def _check_images(request: ChatCompletionRequest) -> None:
    for index, message in enumerate(request.messages):
        if not isinstance(message, UserMessage) or isinstance(message.content, str):
            continue
        for part_index, part in enumerate(message.content):
            if isinstance(part, ImagePart) and image_payload(part.image_url.url) is None:
                field = f"messages[{index}].content[{part_index}].image_url.url"
                raise BadRequestError(
                    f"Invalid request: {field}: must be a base64 data URL such as "
                    "data:image/png;base64,...; image links are never fetched.",
                    param=field,
                )
