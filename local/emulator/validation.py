"""Request-body checks shared by both APIs, failing with the 4xx Ollama would send."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from local.emulator.catalog import ModelEntry
from local.emulator.content import EMBEDDING_DIM
from local.emulator.routing import HttpError, RequestContext

Use = Literal["chat", "generate", "embeddings"]

_GO_DURATION = re.compile(r"([-+]?)((?:\d+(?:\.\d*)?(?:ns|us|µs|ms|s|m|h))+)")
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


def dimensions(body: Mapping[str, Any]) -> int:
    value = optional(body, "dimensions", int, "an integer")
    if value is None:
        return EMBEDDING_DIM
    if not 1 <= value <= EMBEDDING_DIM:
        raise HttpError(400, f"dimensions must be between 1 and {EMBEDDING_DIM}")
    return int(value)


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
        try:
            return timedelta(seconds=float(value))
        except ValueError:
            pass
        if match := _GO_DURATION.fullmatch(value):
            seconds = sum(
                float(number) * _UNIT_SECONDS[unit]
                for number, unit in _GO_DURATION_PART.findall(match.group(2))
            )
            return timedelta(seconds=-seconds if match.group(1) == "-" else seconds)
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
