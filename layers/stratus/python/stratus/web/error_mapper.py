"""The one place that turns exceptions into HTTP responses.

``/v1/...`` answers in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}`` because
the official SDKs parse it; ``/ollama/...`` in Ollama's ``{"error": "..."}``, which the official
``ollama`` client reads; every other route answers ``{"detail": "..."}`` as Open WebUI does.
Bodies never carry stack traces, internal paths or upstream URLs: unexpected errors are logged
with the request's correlation id and answered with a generic message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    SerializationException,
    ValidationException,
)

# Litestar's own form parser, loaded with Litestar: importing it here costs nothing.
from multipart import ParserLimitReached  # type: ignore[import-untyped]

from stratus.errors import StratusError
from stratus.observability import get_logger
from stratus.web.validation_messages import plain_problem

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def uses_openai_shape(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def uses_ollama_shape(path: str) -> bool:
    return path == "/ollama" or path.startswith("/ollama/")


def _validation_message(exc: ValidationException) -> tuple[str, str | None]:
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts: list[str] = []
    first_field: str | None = None
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        key = problem.get("key")
        field_name, rule = plain_problem(str(key) if key else None, str(problem.get("message", "")))
        if field_name and first_field is None:
            first_field = field_name
        parts.append(f"{field_name}: {rule}" if field_name else rule)
    if not parts:
        # Litestar's own refusals carry a plain sentence and no list of problems.
        return f"Invalid request: {exc.detail}", None
    return f"Invalid request: {'; '.join(parts)}.", first_field


def _is_malformed_body(exc: Exception) -> bool:
    """Litestar re-raises a body that does not decode as a 400 whose cause is msgspec's error."""
    return isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException)


# The form parser's limits, in words a client can act on (its own messages name its internals).
_MULTIPART_LIMITS = {
    "Maximum segment header length exceeded": (
        "a part's header line is over 4 KiB (a file name that long, for one)"
    ),
    "Maximum segment header count exceeded": "a part has more than 8 header lines",
    "Maximum segment count exceeded": "it has more parts than a form may have",
}


def _multipart_limit(exc: Exception) -> str | None:
    """Litestar answers a form over one of the parser's limits with a 400 "Request Entity Too
    Large" (kept for compatibility until Litestar 3) raised over the parser's error: a 413 here."""
    if isinstance(exc, ClientException) and isinstance(exc.__context__, ParserLimitReached):
        reason = str(exc.__context__)
        return _MULTIPART_LIMITS.get(reason, reason[:100].lower() or "it is too large")
    return None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    status: int
    message: str
    error_type: str
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def describe(exc: Exception) -> ErrorInfo:
    """The client-safe facts about any exception."""
    if isinstance(exc, StratusError):
        return ErrorInfo(
            exc.status_code, exc.message, exc.error_type, exc.param, exc.code, exc.headers
        )
    over = _multipart_limit(exc)
    if over is not None:
        message = f"The multipart form is over a limit: {over}."
        return ErrorInfo(413, message, "invalid_request_error")
    if _is_malformed_body(exc):
        return ErrorInfo(400, "The request body is not valid JSON.", "invalid_request_error")
    if isinstance(exc, ValidationException):
        message, param = _validation_message(exc)
        return ErrorInfo(422, message, "invalid_request_error", param)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        status = exc.status_code
        headers = dict(exc.headers or {})
        return ErrorInfo(
            status,
            str(exc.detail),
            _OPENAI_TYPES.get(status, "invalid_request_error"),
            headers=headers,
        )
    if isinstance(exc, HTTPException) and exc.status_code == 503:
        return ErrorInfo(503, "Service unavailable; try again shortly.", "service_unavailable")
    return ErrorInfo(500, "Internal server error.", "server_error")


def error_body(path: str, info: ErrorInfo) -> dict[str, Any]:
    if uses_openai_shape(path):
        return {
            "error": {
                "message": info.message,
                "type": info.error_type,
                "param": info.param,
                "code": info.code,
            }
        }
    if uses_ollama_shape(path):
        return {"error": info.message}
    return {"detail": info.message}


def map_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    info = describe(exc)
    if info.status >= 500:
        get_logger().exception(
            "request failed", extra={"status": info.status, "error": type(exc).__name__}
        )
    return Response(
        content=error_body(request.url.path, info),
        status_code=info.status,
        headers=info.headers,
        media_type=MediaType.JSON,
    )
