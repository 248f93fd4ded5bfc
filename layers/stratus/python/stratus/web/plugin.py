"""``StratusPlugin``: the one place that wires errors, request context, CORS, health and auth.

Each function's ``create_app()`` and the local composed app use it, so errors, auth and OpenAPI
behave the same in Lambda and on a laptop.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from stratus import lifecycle
from stratus.auth.guard import access_guard, provide_principal
from stratus.lifecycle import Resource
from stratus.observability.tracing import configure_tracing
from stratus.settings import web_settings
from stratus.web.body import body_guard
from stratus.web.docs import docs_config
from stratus.web.error_mapper import map_exception
from stratus.web.health import ReadinessCheck, health_route_handlers
from stratus.web.request_context import request_context_middleware, stamp_response


async def close_resources() -> None:
    """Close this loop's pool and HTTP clients, whoever built them. A module that was never
    imported built nothing, and checking keeps auth from loading aiohttp to find that out."""
    if "stratus.modelhost.host" in sys.modules:
        from stratus.modelhost import close_model_host

        await close_model_host()
    if "stratus.retrieval.openai_http" in sys.modules:
        from stratus.retrieval.openai_http import close_openai_http

        await close_openai_http()
    if "stratus.ephemeral.aio" in sys.modules:
        from stratus.ephemeral.aio import close_tables

        await close_tables()
    if "stratus.db.pool" in sys.modules:
        from stratus.db import close_pool

        await close_pool()


class StratusPlugin(InitPluginProtocol):
    """``resources``: clients the function uses beyond those its readiness checks declare."""

    def __init__(
        self,
        *,
        service: str,
        readiness: Sequence[ReadinessCheck],
        resources: Sequence[Resource] = (),
    ) -> None:
        self.service = service
        self.readiness = tuple(readiness)
        declared = [check.resource for check in self.readiness if check.resource is not None]
        self.resources = lifecycle.distinct([*declared, *resources])

    async def prepare_resources(self) -> None:
        """Build every resource for the running loop, without I/O: at start-up under uvicorn
        (the Web Adapter's init), at import for Mangum (``stratus.lambda_http``)."""
        await lifecycle.prepare(self.resources)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # Before any client is built: the DynamoDB clients' calls are traced from the start.
        configure_tracing(self.service)
        settings = web_settings()
        app_config.route_handlers.extend(health_route_handlers(self.service, self.readiness))
        app_config.exception_handlers = {Exception: map_exception}
        app_config.middleware.insert(0, request_context_middleware)
        app_config.before_send.append(stamp_response)
        # No cross-origin access unless the operator lists origins.
        if settings.cors_allow_origins:
            app_config.cors_config = CORSConfig(
                allow_origins=list(settings.cors_allow_origins),
                allow_credentials="*" not in settings.cors_allow_origins,
            )
        # Every route, in every function, passes the same guard; routes say who may call them.
        app_config.guards.insert(0, access_guard)
        # Then the body's media type and encoding, before anything parses it.
        app_config.guards.insert(1, body_guard)
        app_config.dependencies["principal"] = Provide(provide_principal, sync_to_thread=False)
        app_config.openapi_config = docs_config(self.service)
        app_config.logging_config = None
        app_config.debug = False
        app_config.on_startup.append(self.prepare_resources)
        app_config.on_shutdown.append(close_resources)
        return app_config
