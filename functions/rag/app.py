"""The rag function.

Files in object storage, chunks in pgvector, retrieval (`/api/v1/files`, `/api/v1/knowledge`).

``create_app()`` does no I/O. The app's pool and clients are built at init without connecting
(``stratus.lifecycle``); they connect on first use.
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.types import ControllerRouterHandler

from functions.rag.files_routes import FilesController
from functions.rag.knowledge_routes import KnowledgeController
from functions.rag.retrieval_routes import RetrievalController
from stratus import probes
from stratus.settings import rag_settings
from stratus.web.plugin import StratusPlugin

SERVICE = "rag"
READINESS = (probes.POSTGRES, probes.OBJECT_STORAGE, probes.MODEL_HOST)


# Room for the multipart framing around a file of RAG_FILE_MAX_SIZE.
_MULTIPART_OVERHEAD = 64 * 1024


def route_handlers() -> list[ControllerRouterHandler]:
    """This function's routes, without health: the local stack composes these into one app.

    Reads ``RAG_FILE_MAX_SIZE`` (no I/O): request bodies may be that large plus the multipart
    framing, and a larger one is refused with 413 while it streams in.
    """
    limit = rag_settings().file_max_bytes + _MULTIPART_OVERHEAD
    return [
        Router(
            path="/",
            route_handlers=[FilesController, KnowledgeController, RetrievalController],
            request_max_body_size=limit,
        )
    ]


def create_app() -> Litestar:
    return Litestar(
        route_handlers=route_handlers(),
        plugins=[StratusPlugin(service=SERVICE, readiness=READINESS)],
    )
