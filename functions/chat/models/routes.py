"""``GET /v1/models`` and ``GET /api/models``: every model the caller may use, from every host;
``GET /v1/models/{id}``: one of them (the openai SDK's ``models.retrieve``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from functions.chat.models.schemas import OpenAIModel, OpenAIModelList, WebUIModel, WebUIModelList
from stratus.auth import Principal
from stratus.modelhost import CatalogModel, get_model_host
from stratus.web.access import Access, access
from stratus.web.text import check_text

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

    # ``path``: model ids may hold slashes (``hf.co/org/model:tag``).
    @get("/v1/models/{model_id:path}", opt=USER)
    async def openai_model(
        self, model_id: FromPath[str], principal: NamedDependency[Principal]
    ) -> OpenAIModel:
        """One model, as ``/v1/models`` lists it: 404 ``model_not_found`` for a model that does
        not exist or that the caller may not use, as a completion naming it would get."""
        name = check_text(model_id.removeprefix("/"), "model")
        choice = await (await get_model_host()).resolve(name, principal)
        model = choice.model
        return OpenAIModel(model.id, model.created, model.owned_by)

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
