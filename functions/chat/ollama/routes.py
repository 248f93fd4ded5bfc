"""Ollama's API under ``/ollama``: for the official ``ollama`` client with ``host=<us>/ollama``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from functions.chat.deps import provide_ollama
from functions.chat.generation.answer import Answer
from functions.chat.ollama.schemas import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    ShowRequest,
)
from functions.chat.ollama.service import OllamaProxy
from functions.chat.request_info import request_info
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access

USER = access(Access.USER)
# Routes that reach the model host: a missing model, the limits, and the host itself.
MODEL = {**USER, **may_answer(404, 429, 502, 503)}
HOST = {**USER, **may_answer(502, 503)}


def _json(raw: bytes) -> Response[bytes]:
    """The host's own JSON bytes, relayed as they came."""
    return Response(raw, media_type=MediaType.JSON)


class OllamaController(Controller):
    path = "/ollama"
    tags = ["ollama"]
    dependencies = {"ollama": Provide(provide_ollama, sync_to_thread=False)}

    @get("/", opt=USER, media_type="text/plain")
    async def root(self) -> str:
        return "Ollama is running"

    @get("/api/version", opt=HOST)
    async def version(self, ollama: NamedDependency[OllamaProxy]) -> dict[str, Any]:
        return await ollama.version()

    @get("/api/tags", opt=HOST)
    async def list_tags(
        self, principal: NamedDependency[Principal], ollama: NamedDependency[OllamaProxy]
    ) -> dict[str, Any]:
        return await ollama.tags(principal)

    @get("/api/ps", opt=HOST)
    async def ps(
        self, principal: NamedDependency[Principal], ollama: NamedDependency[OllamaProxy]
    ) -> dict[str, Any]:
        return await ollama.ps(principal)

    @post("/api/show", opt=MODEL, status_code=200)
    async def show(
        self,
        data: JSONBody[ShowRequest],
        principal: NamedDependency[Principal],
        ollama: NamedDependency[OllamaProxy],
    ) -> Any:
        return await ollama.show(principal, data)

    @post("/api/embed", opt=MODEL, status_code=200)
    async def embed(
        self,
        data: JSONBody[EmbedRequest],
        principal: NamedDependency[Principal],
        ollama: NamedDependency[OllamaProxy],
    ) -> Response[bytes]:
        return _json(await ollama.embed(principal, data, "/api/embed"))

    @post("/api/embeddings", opt=MODEL, status_code=200)
    async def embeddings(
        self,
        data: JSONBody[EmbeddingsRequest],
        principal: NamedDependency[Principal],
        ollama: NamedDependency[OllamaProxy],
    ) -> Response[bytes]:
        """Ollama's legacy single-prompt embeddings route."""
        return _json(await ollama.embed(principal, data, "/api/embeddings"))

    @post("/api/chat", opt=MODEL, status_code=200)
    async def chat(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatRequest],
        principal: NamedDependency[Principal],
        ollama: NamedDependency[OllamaProxy],
    ) -> Answer:
        return await ollama.generate(principal, data, "/api/chat", request_info(request))

    @post("/api/generate", opt=MODEL, status_code=200)
    async def generate(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[GenerateRequest],
        principal: NamedDependency[Principal],
        ollama: NamedDependency[OllamaProxy],
    ) -> Answer:
        return await ollama.generate(principal, data, "/api/generate", request_info(request))
