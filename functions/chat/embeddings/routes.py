"""``POST /v1/embeddings``: OpenAI-compatible, batched through the model host in one call."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from functions.chat.deps import provide_embeddings
from functions.chat.embeddings.schemas import EmbeddingsRequest, EmbeddingsResponse
from functions.chat.embeddings.service import EmbeddingsService
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access


class EmbeddingsController(Controller):
    tags = ["embeddings"]
    dependencies = {"embeddings": Provide(provide_embeddings, sync_to_thread=False)}

    @post(
        "/v1/embeddings",
        opt={**access(Access.USER), **may_answer(404, 429, 502, 503)},
        status_code=200,
    )
    async def embeddings(
        self,
        data: JSONBody[EmbeddingsRequest],
        principal: NamedDependency[Principal],
        embeddings: NamedDependency[EmbeddingsService],
    ) -> EmbeddingsResponse:
        return await embeddings.embed(principal, data)
