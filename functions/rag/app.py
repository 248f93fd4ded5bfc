"""The rag function.

Files in object storage, chunks in pgvector, retrieval (`/api/v1/files`, `/api/v1/knowledge`).

``create_app()`` is cheap and does no I/O; pools and clients are built on first use.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from stratus import probes
from stratus.web.plugin import StratusPlugin

SERVICE = "rag"
READINESS = (probes.POSTGRES, probes.OBJECT_STORAGE, probes.MODEL_HOST)


def route_handlers() -> list[ControllerRouterHandler]:
    """This function's routes, without health: the local stack composes these into one app."""
    return []


def create_app() -> Litestar:
    return Litestar(
        route_handlers=route_handlers(),
        plugins=[StratusPlugin(service=SERVICE, readiness=READINESS)],
    )
