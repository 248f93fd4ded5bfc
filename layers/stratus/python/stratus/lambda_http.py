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


def entry_app(create_app: Callable[[], Litestar]) -> Litestar:
    """The app a Lambda entry point serves: built only once the signing secret checks out."""
    from stratus.auth.secret import require_signing_key

    require_signing_key()
    return create_app()


def mangum_handler(create_app: Callable[[], Litestar]) -> LambdaHandler:
    adapter: list[Any] = []

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Counted first, so an invocation that fails while starting up is still published.
        get_metrics().add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
        if not adapter:
            from mangum import Mangum

            # lifespan="off": Mangum would otherwise run startup and shutdown on every call.
            adapter.append(Mangum(cast(Any, entry_app(create_app)), lifespan="off"))
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
