"""The only place that composes every function into one app, for the local stack and tests.

The web client (``local.webclient``: ``/`` and ``/assets/...``) is served beside the API.
It uses the same ``StratusPlugin`` as each Lambda function, so errors, auth and OpenAPI behave
exactly as they do in AWS. Readiness covers the union of the functions' dependencies.
"""

from __future__ import annotations

from litestar import Litestar

from functions.auth import app as auth
from functions.chat import app as chat
from functions.rag import app as rag
from local.webclient import web_route_handlers
from stratus.lifecycle import Resource
from stratus.web.health import ReadinessCheck
from stratus.web.plugin import StratusPlugin

FUNCTIONS = (auth, chat, rag)


def readiness_checks() -> tuple[ReadinessCheck, ...]:
    seen: dict[str, ReadinessCheck] = {}
    for function in FUNCTIONS:
        for check in function.READINESS:
            seen.setdefault(check.name, check)
    return tuple(seen.values())


def resources() -> tuple[Resource, ...]:
    """Every function's own resources beyond its readiness checks' (the plugin dedupes)."""
    return tuple(r for function in FUNCTIONS for r in getattr(function, "RESOURCES", ()))


def create_local_app() -> Litestar:
    handlers = [handler for function in FUNCTIONS for handler in function.route_handlers()]
    handlers.extend(web_route_handlers())
    plugin = StratusPlugin(service="local", readiness=readiness_checks(), resources=resources())
    return Litestar(route_handlers=handlers, plugins=[plugin])
