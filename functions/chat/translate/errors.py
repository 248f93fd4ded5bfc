"""The one error a stream translator raises."""

from __future__ import annotations

from stratus.errors import UpstreamError

# Upstream error text can run long and carry host details: logs get a bounded excerpt.
_DETAIL_LIMIT = 500


class UpstreamStreamError(UpstreamError):
    """The upstream's stream broke its contract: an error line, bad JSON, an oversized line or
    answer, or a shape we cannot read.

    ``message`` is safe to show a client (no URL, no upstream text); ``detail`` is for the log.
    Raised before the first chunk went out, the error mapper answers it as a 502.
    """

    def __init__(self, message: str, *, code: str, detail: str | None = None) -> None:
        super().__init__(message, code=code)
        self.detail = detail[:_DETAIL_LIMIT] if detail else None


def upstream_reported(detail: object) -> UpstreamStreamError:
    text = detail if isinstance(detail, str) else repr(detail)
    return UpstreamStreamError(
        "The model host reported an error while generating the answer.",
        code="upstream_error",
        detail=text,
    )


def malformed(detail: str) -> UpstreamStreamError:
    return UpstreamStreamError(
        "The model host sent a malformed stream.", code="upstream_bad_stream", detail=detail
    )


def line_too_large(size: int, limit: int) -> UpstreamStreamError:
    return UpstreamStreamError(
        "The model host sent a chunk larger than the gateway accepts.",
        code="upstream_chunk_too_large",
        detail=f"{size} bytes in one line; the limit is {limit}",
    )


def answer_too_large(limit: int) -> UpstreamStreamError:
    return UpstreamStreamError(
        "The model host's answer exceeded the gateway's size limit.",
        code="upstream_response_too_large",
        detail=f"more than {limit} bytes",
    )
