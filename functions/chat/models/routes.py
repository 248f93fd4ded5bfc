"""``GET /v1/models`` and ``GET /api/models``: every model the caller may use, from every host."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency

from functions.chat.models.schemas import OpenAIModel, OpenAIModelList, WebUIModel, WebUIModelList
from stratus.auth import Principal
from stratus.modelhost import CatalogModel, get_model_host
from stratus.web.access import Access, access

USER = access(Access.USER)


async def visible_models(principal: Principal) -> list[CatalogModel]:
    host = await get_model_host()
    models = await host.catalog.models(host.http)
    return sorted(host.catalog.visible(models, principal), key=lambda m: m.id)


def _ollama_entry(model: CatalogModel) -> dict[str, Any] | None:
    if model.kind != "ollama":
        return None
    return {"name": model.id, "model": model.id, **model.details}


class ModelsController(Controller):
    tags = ["models"]

    @get("/v1/models", opt=USER)
    async def openai_models(self, principal: NamedDependency[Principal]) -> OpenAIModelList:
        models = await visible_models(principal)
        return OpenAIModelList([OpenAIModel(m.id, m.created, m.owned_by) for m in models])

    @get("/api/models", opt=USER)
    async def webui_models(self, principal: NamedDependency[Principal]) -> WebUIModelList:
        models = await visible_models(principal)
        return WebUIModelList(
            [
                WebUIModel(
                    id=m.id,
                    name=m.id,
                    created=m.created,
                    owned_by=m.owned_by,
                    connection_type="local" if m.kind == "ollama" else "external",
                    ollama={"name": m.id, "model": m.id, **m.details}
                    if m.kind == "ollama"
                    else None,
                )
                for m in models
            ]
        )
