"""Lambda entry points for the Mangum-served functions (auth, rag), built at init.

Importing a handler module is Lambda's init: it builds the app, its Mangum adapter and the
powertools wrappers, then every pool and client the function declares, on the event loop Mangum
serves every invocation on, without connecting (``stratus.lifecycle``). SnapStart snapshots all
of that; the first invocation only opens connections. The SnapStart hooks reset the resources
after a restore when the runtime has ``snapshot_restore_py``. Chat, under the Web Adapter, is
built by ``stratus.web.snapstart.web_adapter_app``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from litestar import Litestar
from mangum import Mangum

from stratus import lifecycle
from stratus.entry import entry_app
from stratus.observability import get_logger, get_metrics
from stratus.web.plugin import StratusPlugin

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _invocation_loop() -> asyncio.AbstractEventLoop:
    """The loop Mangum runs every invocation on: this thread's, which ``Mangum()`` sets up."""
    return asyncio.get_event_loop_policy().get_event_loop()


def mangum_handler(create_app: Callable[[], Litestar]) -> LambdaHandler:
    app = entry_app(create_app)
    # lifespan="off": Mangum would otherwise run startup and shutdown on every call.
    adapter = Mangum(cast(Any, app), lifespan="off")
    plugin = app.plugins.get(StratusPlugin)
    loop = _invocation_loop()
    if not loop.is_running():
        # A loop already running here is not Mangum's (someone imported the handler inside
        # async code); the resources are then built by their first use, on Mangum's loop.
        loop.run_until_complete(plugin.prepare_resources())
        lifecycle.install_runtime_hooks(plugin.resources, loop)

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Counted first, so an invocation that fails is still published.
        get_metrics().add_metric(name="Invocations", unit=MetricUnit.Count, value=1)
        result: dict[str, Any] = adapter(event, context)
        return result

    logger, metrics = get_logger(), get_metrics()
    handler: LambdaHandler = logger.inject_lambda_context(
        metrics.log_metrics(handle, capture_cold_start_metric=True)
    )
    return handler
