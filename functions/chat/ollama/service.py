"""``/ollama/api/*``: Ollama's own API, relayed to the GPU host with our auth and allow-list.

Only inference and read routes exist here; the management routes (pull, push, create, delete,
copy, blobs) are not exposed at all, and the GPU host's proxy refuses them too. Every route that
names a model resolves it through the catalog, so the allow-list applies the same way as on
``/v1``, and a name can never pick another host.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec

from functions.chat.generation.metered import metered
from functions.chat.generation.registry import GenerationRegistry
from functions.chat.generation.relay import GenerationResponse
from functions.chat.generation.service import GenerationService, Launch, RequestInfo
from functions.chat.generation.wire import NDJSONWire
from functions.chat.ollama.passthrough import NDJSONPassthrough, PassthroughError
from stratus.auth import Principal
from stratus.errors import BadRequestError, ModelNotFoundError, StratusError
from stratus.modelhost import ModelChoice, ModelHost, get_model_host
from stratus.modelhost.catalog import allowed
from stratus.settings import ChatSettings

_encode = msgspec.json.Encoder().encode


def _model_name(body: dict[str, Any]) -> str:
    # Older clients send the model as "name".
    name = body.get("model", body.get("name"))
    if not isinstance(name, str) or not name:
        raise BadRequestError("model is required", param="model")
    return name


def _operator_options(host: ModelHost, body: dict[str, Any], *, num_ctx: bool) -> dict[str, Any]:
    """The configured per-model ``keep_alive`` and ``num_ctx`` replace the client's, as on
    ``/v1``: on a shared GPU a client must not pin a model or reload it at another context size.
    Unconfigured, the client's own values go through as Ollama would take them."""
    model = body["model"]
    keep_alive = host.keep_alive(model)
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    context = host.num_ctx(model) if num_ctx else None
    if context is not None:
        options = body.get("options")
        body["options"] = {**(options if isinstance(options, dict) else {}), "num_ctx": context}
    return body


class OllamaProxy:
    def __init__(
        self, generations: GenerationService, registry: GenerationRegistry, settings: ChatSettings
    ) -> None:
        self.generations = generations
        self.registry = registry
        self.settings = settings

    async def _resolve(self, principal: Principal, body: dict[str, Any]) -> ModelChoice:
        name = _model_name(body)
        host = await get_model_host()
        choice = await host.resolve(name, principal)
        if choice.upstream.kind != "ollama":
            raise ModelNotFoundError(f"model '{name}' not found", param="model")
        return choice

    async def version(self) -> dict[str, Any]:
        return {"version": await (await get_model_host()).version()}

    async def tags(self, principal: Principal) -> dict[str, Any]:
        host = await get_model_host()
        models = host.catalog.visible(await host.catalog.models(host.http), principal)
        return {
            "models": [
                {"name": m.id, "model": m.id, **m.details} for m in models if m.kind == "ollama"
            ]
        }

    async def ps(self, principal: Principal) -> dict[str, Any]:
        host = await get_model_host()
        hosts = [u for u in host.upstreams if u.kind == "ollama"]
        answers = await asyncio.gather(
            *(host.http.json(u, "GET", "/api/ps") for u in hosts), return_exceptions=True
        )
        patterns = self.settings.user_models
        running = [
            entry
            for answer in answers
            if isinstance(answer, dict)
            for entry in answer.get("models") or []
            if isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and allowed(entry["name"], principal, patterns)
        ]
        if not running and answers and all(isinstance(a, StratusError) for a in answers):
            first = answers[0]
            assert isinstance(first, StratusError)
            raise first
        return {"models": running}

    async def show(self, principal: Principal, body: dict[str, Any]) -> Any:
        choice = await self._resolve(principal, body)
        host = await get_model_host()
        forwarded = {**body, "model": choice.model.id}
        forwarded.pop("name", None)
        return await host.http.json(choice.upstream, "POST", "/api/show", forwarded)

    async def embed(self, principal: Principal, body: dict[str, Any], path: str) -> Any:
        choice = await self._resolve(principal, body)
        host = await get_model_host()
        forwarded = _operator_options(host, {**body, "model": choice.model.id}, num_ctx=False)
        async with metered(self.registry, self.settings, principal, choice.model.id) as meter:
            answer = await host.http.json(choice.upstream, "POST", path, forwarded)
            if isinstance(answer, dict):
                meter.tokens = int(answer.get("prompt_eval_count") or 0)
        return answer

    async def generate(
        self, principal: Principal, body: dict[str, Any], path: str, info: RequestInfo
    ) -> GenerationResponse:
        """``/api/chat`` and ``/api/generate``: streamed by default, as Ollama does."""
        choice = await self._resolve(principal, body)
        stream = body.get("stream", True)
        if not isinstance(stream, bool):
            raise BadRequestError("stream must be a boolean", param="stream")
        host = await get_model_host()
        forwarded = _operator_options(
            host, {**body, "model": choice.model.id, "stream": stream}, num_ctx=True
        )
        return await self.generations.launch(
            Launch(
                principal=principal,
                choice=choice,
                path=path,
                body=_encode(forwarded),
                translator=NDJSONPassthrough(),
                wire=NDJSONWire() if stream else NDJSONWire(b"application/json"),
                model_name=choice.model.id,
                stream=True,  # the relay writes the single non-streamed line as it comes
                include_usage=False,
                task_id=uuid.uuid4().hex,
                turn=None,
                info=info,
                translator_errors=(PassthroughError,),
            )
        )
