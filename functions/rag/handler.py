"""AWS Lambda entry points of the rag function.

- ``functions.rag.handler.handler``: the HTTP API (Mangum), for API Gateway.
- ``functions.rag.handler.ingest_handler``: S3 ``ObjectCreated`` events on the uploads bucket.
  Each object under ``files/`` is ingested (``functions.rag.ingest``), idempotently. When a file
  could not be processed for a reason another attempt may fix (the model host away), the file
  goes back to ``pending`` and the invocation fails, so Lambda's own retry of the asynchronous
  event tries again, at most ``STRATUS_RAG_INGEST_MAX_ATTEMPTS`` times in all.

Importing this module is the HTTP function's init (``stratus.lambda_http``), run with the garbage
collector off (``stratus.init_gc``).
"""

from __future__ import annotations

from typing import Any

from stratus import init_gc

with init_gc.phase():
    import asyncio

    from functions.rag.app import create_app
    from stratus.lambda_http import mangum_handler

    handler = mangum_handler(create_app)

# One event loop per execution environment, reused while it is warm, as Mangum does: the pool
# and HTTP clients built on it stay valid from one invocation to the next.
_loop: list[asyncio.AbstractEventLoop] = []
_wrapped: list[Any] = []


class RetryLaterError(Exception):
    """Raised so that Lambda retries the event: some file may succeed on another attempt."""


def _ingest(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.metrics import MetricUnit

    from functions.rag.ingest.entry import ingest_keys
    from functions.rag.ingest.events import created_keys
    from stratus.observability import get_metrics
    from stratus.observability.tracing import invocation_span
    from stratus.settings import storage_settings

    storage = storage_settings()
    keys = created_keys(event, storage.s3_bucket, storage.s3_key_prefix)
    get_metrics().add_metric(name="IngestObjects", unit=MetricUnit.Count, value=len(keys))
    if not _loop:
        _loop.append(asyncio.new_event_loop())
    with invocation_span("ingest", objects=len(keys)):
        outcomes = _loop[0].run_until_complete(ingest_keys(keys, retry_transient=True))
    waiting = [o.file_id for o in outcomes if o.status == "pending"]
    if waiting:
        raise RetryLaterError(f"{len(waiting)} file(s) will be tried again")
    return {"files": [{"id": o.file_id, "status": o.status} for o in outcomes]}


def ingest_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Wrapped on first call, not at import: the decorators need settings.
    if not _wrapped:
        from stratus.observability import get_logger, get_metrics

        logger, metrics = get_logger(), get_metrics()
        _wrapped.append(
            logger.inject_lambda_context(
                metrics.log_metrics(_ingest, capture_cold_start_metric=True)
            )
        )
    result: dict[str, Any] = _wrapped[0](event, context)
    return result
