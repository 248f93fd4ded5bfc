"""Lambda entry points for the Mangum-served functions (auth, rag).

The ASGI app and its Mangum adapter are built on the first invocation and reused while the
execution environment stays warm; so are the pools and clients the app builds lazily. Mangum runs
every invocation on the same event loop, which is what keeps those async resources valid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from litestar import Litestar

from stratus.observability import get_logger, get_metrics

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def mangum_handler(create_app: Callable[[], Litestar]) -> LambdaHandler:
    adapter: list[Any] = []

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not adapter:
            from mangum import Mangum

            # lifespan="off": Mangum would otherwise run startup and shutdown on every call.
            adapter.append(Mangum(cast(Any, create_app()), lifespan="off"))
        get_metrics().add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
        result: dict[str, Any] = adapter[0](event, context)
        return result

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The decorators need settings, so they are applied on first call, not at import.
        if not wrapped:
            logger, metrics = get_logger(), get_metrics()
            wrapped.append(
                logger.inject_lambda_context(
                    metrics.log_metrics(handle, capture_cold_start_metric=True)
                )
            )
        return wrapped[0](event, context)

    wrapped: list[LambdaHandler] = []
    return handler
