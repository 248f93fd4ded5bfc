"""Request-body checks shared by both APIs, failing with the 4xx Ollama would send."""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from local.emulator.catalog import ModelEntry
from local.emulator.routing import HttpError, RequestContext

Use = Literal["chat", "generate", "embeddings"]

_THINK_LEVELS = ("high", "medium", "low")
_EFFORTS = ("high", "medium", "low", "none")
# The data URLs Ollama's OpenAI layer decodes (openai/openai.go).
_IMAGE_DATA_URL = re.compile(r"data:(?:image/(?:jpeg|jpg|png|webp))?;base64,")

_GO_DURATION = re.compile(r"([-+]?)((?:\d+(?:\.\d*)?(?:ns|us|µs|ms|s|m|h))+)")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def require_model(ctx: RequestContext, body: Mapping[str, Any], use: Use) -> tuple[str, ModelEntry]:
    """The requested name as given (responses echo it) and the model it resolves to."""
    name = body.get("model")
    if name is None or name == "":
        raise HttpError(400, "model is required")
    if not isinstance(name, str):
        raise HttpError(400, "model must be a string")
    entry = ctx.state.catalog.resolve(name)
    if entry is None:
        raise HttpError(404, f"model '{name}' not found, try pulling it first")
    if (use == "embeddings") != (entry.kind == "embed"):
        raise HttpError(400, f'"{name}" does not support {use}')
    return name, entry


def optional(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    # bool is an int subclass, but `"num_predict": true` is not a number.
    if not isinstance(value, kind) or (isinstance(value, bool) and not _wants_bool(kind)):
        raise HttpError(400, f"{key} must be {what}")
    return value


def flag(body: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = optional(body, key, bool, "a boolean")
    return default if value is None else bool(value)


def token_limit(value: Any, key: str) -> int | None:
    """A max-token option; negative means unlimited, as with Ollama's num_predict=-1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise HttpError(400, f"{key} must be an integer")
    return None if value < 0 else value


def dimensions(body: Mapping[str, Any], entry: ModelEntry) -> int:
    value = optional(body, "dimensions", int, "an integer")
    if value is None:
        return entry.dimensions
    if not 1 <= value <= entry.dimensions:
        raise HttpError(400, f"dimensions must be between 1 and {entry.dimensions}")
    return int(value)


def think_level(value: Any, entry: ModelEntry, name: str) -> str | None:
    """Ollama's `think`: the level to think at ("default" for true), or None for no thinking."""
    if value is None or value is False:
        return None
    if isinstance(value, str):
        if value not in _THINK_LEVELS:
            raise HttpError(
                400,
                f'invalid think value: "{value}" (must be "high", "medium", "low", true, or false)',
            )
        level = value
    elif value is True:
        level = "default"
    else:
        raise HttpError(400, "think must be a boolean or a level")
    if not entry.thinking:
        raise HttpError(400, f'"{name}" does not support thinking')
    return level


def reasoning_level(body: Mapping[str, Any], entry: ModelEntry, name: str) -> str | None:
    """`/v1`'s `reasoning_effort` (or `reasoning.effort`) as Ollama's OpenAI layer reads it."""
    reasoning = body.get("reasoning")
    # Ollama reads `reasoning` first, then `reasoning_effort`.
    if isinstance(reasoning, Mapping):
        effort = reasoning.get("effort")
    else:
        effort = body.get("reasoning_effort")
    if effort is None or effort == "":
        return None
    if effort not in _EFFORTS:
        raise HttpError(
            400,
            f'invalid reasoning value: \'{effort}\' (must be "high", "medium", "low", or "none")',
        )
    return None if effort == "none" else think_level(effort, entry, name)


def ollama_format(body: Mapping[str, Any]) -> str | dict[str, Any] | None:
    value = optional(body, "format", (str, dict), "a string or a JSON schema")
    if value in (None, ""):
        return None
    if isinstance(value, str) and value != "json":
        raise HttpError(400, f'invalid format: "{value}" (expected "json" or a JSON schema)')
    return value  # type: ignore[no-any-return]


def openai_format(body: Mapping[str, Any]) -> str | dict[str, Any] | None:
    value = optional(body, "response_format", dict, "an object")
    if value is None:
        return None
    kind = value.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return schema if isinstance(schema, dict) else None
    return None


def ollama_images(messages: list[dict[str, Any]]) -> int:
    """Checks every message's `images` (base64 strings, as Ollama decodes them); the count."""
    count = 0
    for message in messages:
        images = message.get("images")
        if images is None:
            continue
        if not isinstance(images, list) or not all(_is_base64(image) for image in images):
            raise HttpError(400, "illegal base64 data in images")
        count += len(images)
    return count


def openai_images(messages: list[dict[str, Any]]) -> int:
    """Checks `image_url` content parts as Ollama's OpenAI layer does; the count."""
    count = 0
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, Mapping) or part.get("type") != "image_url":
                continue
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str):
                raise HttpError(400, "invalid image input")
            match = _IMAGE_DATA_URL.match(url)
            if match is None or not _is_base64(url[match.end() :]):
                raise HttpError(400, "invalid image input")
            count += 1
    return count


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    return True


def keep_alive(body: Mapping[str, Any]) -> timedelta | None:
    """Ollama's keep_alive: seconds as a number, or a Go duration string such as "5m"."""
    value = body.get("keep_alive")
    if value is None:
        return None
    if isinstance(value, bool):
        raise HttpError(400, "keep_alive must be a number or a duration")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        # Go's time.ParseDuration, as Ollama reads it: a unit is required, except for zero.
        if value in {"0", "+0", "-0"}:
            return timedelta(0)
        if match := _GO_DURATION.fullmatch(value):
            seconds = sum(
                float(number) * _UNIT_SECONDS[unit]
                for number, unit in _GO_DURATION_PART.findall(match.group(2))
            )
            return timedelta(seconds=-seconds if match.group(1) == "-" else seconds)
        if _NUMBER.fullmatch(value):
            raise HttpError(400, f'time: missing unit in duration "{value}"')
    raise HttpError(400, f"time: invalid duration {value!r}")


def limit_tokens(tokens: list[str], limit: int | None) -> tuple[list[str], bool]:
    """Cut `tokens` to `limit`; the flag says whether the limit was what stopped it."""
    if limit is not None and len(tokens) > limit:
        return tokens[:limit], True
    return tokens, False


def _wants_bool(kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return bool in kinds


def messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    value = body.get("messages")
    if value is None:
        return []
    if not isinstance(value, list):
        raise HttpError(400, "messages must be a list")
    for message in value:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise HttpError(400, "each message must be an object with a string role")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise HttpError(400, "message content must be a string or a list of parts")
    return value


def text_inputs(body: Mapping[str, Any]) -> list[str]:
    """`input` as a list of texts: one string, or a list of strings."""
    value = body.get("input")
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise HttpError(400, "invalid input type")
