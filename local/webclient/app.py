"""The web client as an app of its own, for the Lambda mode, where each function is separate."""

from __future__ import annotations

from litestar import Litestar

from local.webclient.routes import web_route_handlers
from stratus.web.plugin import StratusPlugin


def create_web_app() -> Litestar:
    # The same plugin as every function: errors (a JSON 404), request ids, the access guard.
    return Litestar(
        route_handlers=web_route_handlers(), plugins=[StratusPlugin(service="web", readiness=())]
    )
