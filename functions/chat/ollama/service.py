"""``/ollama/api/*``: Ollama's own API, relayed to the GPU host with our auth and allow-list.

Only inference and read routes exist here; the management routes (pull, push, create, delete,
copy, blobs) are not exposed at all, and the GPU host's proxy refuses them too. Every route that
names a model resolves it through the catalog, so the allow-list applies the same way as on
``/v1``, and a name can never pick another host. Bodies are checked as strictly as ``/v1``'s
(``schemas.py``), pass the shared-GPU guard (``translate.shared_gpu``) and the caller's limits
before anything is sent: a refused request never reaches the host.
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
from functions.chat.ollama.schemas import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    ShowRequest,
)
from functions.chat.translate import usage_estimate
from functions.chat.translate.shared_gpu import GpuLimits, OperatorChoice, guard
from stratus.auth import Principal
from stratus.errors import ModelNotFoundError, StratusError, UpstreamError
from stratus.modelhost import ModelChoice, ModelHost, get_model_host, host_metrics
from stratus.modelhost.catalog import allowed
from stratus.settings import ChatSettings

_encode = msgspec.json.Encoder().encode


class _Counted(msgspec.Struct):
    """The one field of an embeddings answer we read (the vectors are relayed undecoded)."""

    prompt_eval_count: int | None = None


_decode_count = msgspec.json.Decoder(_Counted).decode


def _prompt_estimate(request: ChatRequest | GenerateRequest) -> int:
    """The prompt's size, should the host's own count never come (a stop, a hang-up)."""
    if isinstance(request, ChatRequest):
        return usage_estimate.prompt_tokens(
            (m.content for m in request.messages), len(request.messages)
        )
    texts = (request.system or "", request.prompt or "", request.suffix or "")
    return usage_estimate.prompt_tokens(texts, 1)


class OllamaProxy:
    def __init__(
        self, generations: GenerationService, registry: GenerationRegistry, settings: ChatSettings
    ) -> None:
        self.generations = generations
        self.registry = registry
        self.settings = settings

    async def _resolve(self, principal: Principal, name: str) -> ModelChoice:
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
            if await host.sleep_state() is not None:
                return {"models": []}  # a sleeping host has nothing loaded
            first = answers[0]
            assert isinstance(first, StratusError)
            raise first
        return {"models": running}

    def _forwarded(
        self,
        host: ModelHost,
        principal: Principal,
        choice: ModelChoice,
        request: msgspec.Struct,
        **fields: Any,
    ) -> dict[str, Any]:
        """The body as it goes to the host: the catalog's model name, the shared-GPU guard."""
        body: dict[str, Any] = msgspec.to_builtins(request)
        body.pop("name", None)
        body.update(model=choice.model.id, **fields)
        model = choice.model.id
        operator = OperatorChoice(host.keep_alive(model), host.num_ctx(model))
        limits = GpuLimits(self.settings.max_keep_alive_seconds, self.settings.max_num_ctx)
        return guard(body, admin=principal.is_admin, limits=limits, operator=operator)

    async def show(self, principal: Principal, request: ShowRequest) -> Any:
        choice = await self._resolve(principal, request.model_name)
        host = await get_model_host()
        forwarded: dict[str, Any] = msgspec.to_builtins(request)
        forwarded.pop("name", None)
        forwarded["model"] = choice.model.id
        return await host.http.json(choice.upstream, "POST", "/api/show", forwarded)

    async def embed(
        self, principal: Principal, request: EmbedRequest | EmbeddingsRequest, path: str
    ) -> bytes:
        """Relayed as the host's JSON bytes, capped at ``STRATUS_UPSTREAM_MAX_RESPONSE_BYTES``:
        only the token count is decoded, never the vectors."""
        choice = await self._resolve(principal, request.model_name)
        host = await get_model_host()
        forwarded = self._forwarded(host, principal, choice, request)
        async with metered(self.registry, self.settings, principal, choice.model.id) as meter:
            host_metrics.inference_request()
            raw = await host.awake(
                choice.upstream,
                lambda: host.http.read(
                    choice.upstream,
                    "POST",
                    path,
                    _encode(forwarded),
                    max_bytes=self.settings.max_response_bytes,
                ),
            )
            try:
                counted = _decode_count(raw).prompt_eval_count
            except (msgspec.DecodeError, RecursionError):
                raise UpstreamError("The model host sent a response that is not JSON.") from None
            # The legacy /api/embeddings reports no count: what was embedded is estimated, so
            # the budget still sees it (matrix row 33).
            meter.tokens = counted or usage_estimate.prompt_tokens(_embedded_texts(request))
        return raw

    async def generate(
        self,
        principal: Principal,
        request: ChatRequest | GenerateRequest,
        path: str,
        info: RequestInfo,
    ) -> GenerationResponse:
        """``/api/chat`` and ``/api/generate``: streamed by default, as Ollama does."""
        choice = await self._resolve(principal, request.model_name)
        stream = True if request.stream is None else request.stream
        host = await get_model_host()
        forwarded = self._forwarded(host, principal, choice, request, stream=stream)
        return await self.generations.launch(
            Launch(
                principal=principal,
                choice=choice,
                path=path,
                body=_encode(forwarded),
                translator=NDJSONPassthrough(_prompt_estimate(request)),
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


def _embedded_texts(request: EmbedRequest | EmbeddingsRequest) -> list[str]:
    if isinstance(request, EmbeddingsRequest):
        return [request.prompt]
    return [request.input] if isinstance(request.input, str) else list(request.input)
