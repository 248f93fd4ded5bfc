"""``ModelHost``: the process's way to the model upstreams, built once per event loop.

It bundles the HTTP session, the configured upstreams and the model catalog. The chat function
streams through ``http``; the rag function and ``/v1/embeddings`` use ``embed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratus.auth.principal import Principal
from stratus.errors import BadRequestError
from stratus.modelhost import ollama, openai_compat
from stratus.modelhost.catalog import ModelCatalog, ModelChoice, option_for
from stratus.modelhost.http import UpstreamHTTP, close_upstream_http, get_upstream_http
from stratus.modelhost.upstreams import Upstream, configured_upstreams
from stratus.observability.tracing import span
from stratus.resources import PerLoop
from stratus.settings import ChatSettings, chat_settings, model_host_settings


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


class ModelHost:
    def __init__(
        self, http: UpstreamHTTP, upstreams: tuple[Upstream, ...], settings: ChatSettings
    ) -> None:
        self.http = http
        self.upstreams = upstreams
        self.settings = settings
        self.catalog = ModelCatalog(upstreams, settings)

    async def resolve(self, name: str, principal: Principal) -> ModelChoice:
        with span("model.resolve"):
            return await self.catalog.resolve(self.http, name, principal)

    def keep_alive(self, model_id: str) -> str | int | None:
        value = option_for(model_id, self.settings.keep_alive)
        # Ollama reads a string as a Go duration ("5m"), so bare seconds must go as a number.
        if value is not None and value.lstrip("-").isdigit():
            return int(value)
        return value

    def num_ctx(self, model_id: str) -> int | None:
        value = option_for(model_id, self.settings.num_ctx)
        return int(value) if value else None

    async def embed(self, choice: ModelChoice, inputs: list[str]) -> Embeddings:
        """All of ``inputs`` in one upstream call: both APIs batch natively."""
        if not inputs:
            raise BadRequestError("There is nothing to embed.", param="input")
        if choice.upstream.kind == "ollama":
            vectors, tokens = await ollama.embed(
                self.http,
                choice.upstream,
                choice.model.id,
                inputs,
                keep_alive=self.keep_alive(choice.model.id),
            )
        else:
            vectors, tokens = await openai_compat.embed(
                self.http, choice.upstream, choice.model.id, inputs
            )
        return Embeddings(vectors, tokens)

    async def version(self) -> str:
        """The first Ollama host's version: what ``/readyz`` reports on."""
        ollama_hosts = [u for u in self.upstreams if u.kind == "ollama"]
        if ollama_hosts:
            return await ollama.version(self.http, ollama_hosts[0])
        await openai_compat.models(self.http, self.upstreams[0])
        return "openai-compatible"


async def _build() -> ModelHost:
    return ModelHost(
        await get_upstream_http(), configured_upstreams(model_host_settings()), chat_settings()
    )


_host: PerLoop[ModelHost] = PerLoop(_build)


async def get_model_host() -> ModelHost:
    return await _host.get()


async def prepare_model_host() -> None:
    """Build the HTTP session and the catalog for the running loop (Lambda's init); aiohttp
    connects on the first request."""
    await _host.get()


async def close_model_host() -> None:
    """Close the running loop's session, and forget the catalog and its cached model list."""
    if _host.current() is not None:
        _host.forget()
    await close_upstream_http()
