"""The chat function.

The OpenAI-compatible streaming gateway to the model host, with chat history and stop.

``create_app()`` does no I/O. The app's start-up builds its pool and clients without connecting
(``stratus.lifecycle``); they connect on first use.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ControllerRouterHandler

from functions.chat.chats.routes import chat_route_handlers
from functions.chat.completions.routes import CompletionsController
from functions.chat.embeddings.routes import EmbeddingsController
from functions.chat.generation.user_state import STATE_CLIENTS
from functions.chat.models.routes import ModelsController
from functions.chat.ollama.routes import OllamaController
from functions.chat.tasks.routes import TasksController
from stratus import probes
from stratus.web.plugin import StratusPlugin

SERVICE = "chat"
READINESS = (probes.POSTGRES, probes.DYNAMODB, probes.MODEL_HOST)
# Beyond those: the registry's own DynamoDB clients.
RESOURCES = (STATE_CLIENTS,)


def route_handlers() -> list[ControllerRouterHandler]:
    """This function's routes, without health: the local stack composes these into one app."""
    return [
        CompletionsController,
        ModelsController,
        EmbeddingsController,
        OllamaController,
        TasksController,
        *chat_route_handlers(),
    ]


def create_app() -> Litestar:
    return Litestar(
        route_handlers=route_handlers(),
        plugins=[StratusPlugin(service=SERVICE, readiness=READINESS, resources=RESOURCES)],
    )
