"""The auth function.

Accounts, sessions, API keys and admin (Open WebUI's `/api/v1/auths` and `/api/v1/users`), and
Open WebUI's public `/api/config`.

``create_app()`` does no I/O. Its pool, clients and services are built at init without
connecting (``stratus.lifecycle``); they connect on first use.
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.types import ControllerRouterHandler

from functions.auth.deps import SERVICES, AuthServices
from functions.auth.routes import AuthsController, ConfigController, UsersController
from stratus import probes
from stratus.web.plugin import StratusPlugin

SERVICE = "auth"
READINESS = (probes.POSTGRES, probes.DYNAMODB)
RESOURCES = (SERVICES.resource,)


def route_handlers(services: AuthServices = SERVICES) -> list[ControllerRouterHandler]:
    """This function's routes, without health: the local stack composes these into one app.
    The routes get their services from ``services``."""
    return [
        Router(
            "/",
            route_handlers=[AuthsController, UsersController, ConfigController],
            dependencies=services.dependencies(),
        )
    ]


def create_app(services: AuthServices = SERVICES) -> Litestar:
    return Litestar(
        route_handlers=route_handlers(services),
        plugins=[
            StratusPlugin(service=SERVICE, readiness=READINESS, resources=(services.resource,))
        ],
    )
