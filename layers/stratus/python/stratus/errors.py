"""Typed domain errors. One mapper (``stratus.web.error_mapper``) turns them into HTTP responses.

Messages are shown to clients, so they must never carry secrets, stack traces, internal paths or
upstream URLs. Details for operators go to the log, not into the message.
"""

from __future__ import annotations

from collections.abc import Mapping


class StratusError(Exception):
    """Base class: a client-safe message plus the HTTP status and OpenAI error type it maps to."""

    status_code = 500
    error_type = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})


class BadRequestError(StratusError):
    status_code = 400
    error_type = "invalid_request_error"


class ValidationError(StratusError):
    status_code = 422
    error_type = "invalid_request_error"


class AuthenticationError(StratusError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(StratusError):
    status_code = 403
    error_type = "permission_error"


class NotFoundError(StratusError):
    status_code = 404
    error_type = "not_found_error"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class ConflictError(StratusError):
    status_code = 409
    error_type = "conflict_error"


class PayloadTooLargeError(StratusError):
    status_code = 413
    error_type = "invalid_request_error"


class UnsupportedMediaTypeError(StratusError):
    status_code = 415
    error_type = "invalid_request_error"


class RateLimitedError(StratusError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class UpstreamError(StratusError):
    """The model host or an OpenAI-compatible upstream answered badly."""

    status_code = 502
    error_type = "upstream_error"


class ServiceUnavailableError(StratusError):
    """A dependency we need is down or saturated; retrying later may work."""

    status_code = 503
    error_type = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(message, headers=headers)


class ModelHostUnavailableError(ServiceUnavailableError):
    code = "model_host_unavailable"


class ModelHostStartingError(ServiceUnavailableError):
    """The model host sleeps or is waking (scale-to-zero), and did not answer within the hold."""

    code = "model_host_starting"


class ConfigError(StratusError):
    """The process is misconfigured. Raised on first use of a settings section."""

    status_code = 500
    error_type = "server_error"
