"""``ModelHost``: the process's way to the model upstreams, built once per event loop.

It bundles the HTTP session, the configured upstreams and the model catalog. The chat function
streams through ``http``; the rag function and ``/v1/embeddings`` use ``embed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from stratus.auth.principal import Principal
from stratus.errors import BadRequestError, ModelHostStartingError, ModelHostUnavailableError
from stratus.modelhost import host_metrics, ollama, openai_compat
from stratus.modelhost.catalog import ModelCatalog, ModelChoice, option_for
from stratus.modelhost.http import UpstreamHTTP, close_upstream_http, get_upstream_http
from stratus.modelhost.upstreams import Upstream, configured_upstreams
from stratus.modelhost.wake_controllers import HostState, configured_controller
from stratus.modelhost.waker import Waker
from stratus.observability.tracing import span
from stratus.resources import PerLoop
from stratus.settings import (
    ChatSettings,
    ModelHostSettings,
    aws_settings,
    chat_settings,
    model_host_settings,
)

T = TypeVar("T")
# A probe while waking must not wait out a whole connect timeout on a host that isn't there.
_WAKE_PROBE_SECONDS = 2.0
# What a held request that gave up tells its client to wait before trying again.
STARTING_RETRY_AFTER = 15


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


class ModelHost:
    def __init__(
        self,
        http: UpstreamHTTP,
        upstreams: tuple[Upstream, ...],
        settings: ChatSettings,
        host_settings: ModelHostSettings | None = None,
    ) -> None:
        self.http = http
        self.upstreams = upstreams
        self.settings = settings
        self.host_settings = host_settings or model_host_settings()
        self.catalog = ModelCatalog(upstreams, settings, waking=self._waking)
        controller = configured_controller(self.host_settings, aws_settings().region)
        ollama_hosts = [u for u in upstreams if u.kind == "ollama"]
        # The controller starts the Ollama hosts (the GPU host); OpenAI-compatible upstreams
        # are someone else's and never sleep here.
        self.waker = (
            Waker(controller, self.host_settings, self._answers_probe(ollama_hosts))
            if controller is not None and ollama_hosts
            else None
        )

    def waker_for(self, upstream: Upstream) -> Waker | None:
        return self.waker if upstream.kind == "ollama" else None

    def _waking(self, upstream: Upstream) -> bool:
        waker = self.waker_for(upstream)
        return waker is not None and waker.waking

    def _answers_probe(self, hosts: list[Upstream]) -> Callable[[], Awaitable[bool]]:
        async def answers() -> bool:
            try:
                async with asyncio.timeout(_WAKE_PROBE_SECONDS):
                    await ollama.version(self.http, hosts[0])
            except (ModelHostUnavailableError, TimeoutError):
                return False
            return True

        return answers

    async def resolve(self, name: str, principal: Principal) -> ModelChoice:
        with span("model.resolve"):
            return await self.catalog.resolve(self.http, name, principal)

    async def awake(
        self, upstream: Upstream, attempt: Callable[[], Awaitable[T]], *, hold: float | None = None
    ) -> T:
        """``attempt()`` against ``upstream``; if its host sleeps or is starting, hold up to
        ``hold`` seconds (``STRATUS_MODEL_HOST_HOLD_SECONDS``) while it wakes, then try once
        more, or answer 503 ``model_host_starting`` with ``Retry-After``. Call it only for a
        request that was admitted: it may wake the host (matrix row 36)."""
        waker = self.waker_for(upstream)
        if waker is None:
            return await attempt()
        if not waker.waking:
            try:
                return await attempt()
            except ModelHostUnavailableError:
                if await waker.hold_state() is None:
                    raise
        await self.hold(waker, self.host_settings.hold_seconds if hold is None else hold)
        return await attempt()

    @staticmethod
    async def hold(waker: Waker, seconds: float) -> None:
        if not await waker.wait_awake(seconds):
            raise ModelHostStartingError(
                "The model host is starting; try again shortly.", retry_after=STARTING_RETRY_AFTER
            )

    async def sleep_state(self) -> HostState | None:
        """``ASLEEP`` or ``STARTING`` when the Ollama host sleeps or wakes, else None."""
        if self.waker is None:
            return None
        return await self.waker.hold_state()

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
        host_metrics.inference_request()
        if choice.upstream.kind == "ollama":
            vectors, tokens = await self.awake(
                choice.upstream,
                lambda: ollama.embed(
                    self.http,
                    choice.upstream,
                    choice.model.id,
                    inputs,
                    keep_alive=self.keep_alive(choice.model.id),
                    max_bytes=self.settings.max_response_bytes,
                ),
            )
        else:
            vectors, tokens = await openai_compat.embed(
                self.http,
                choice.upstream,
                choice.model.id,
                inputs,
                max_bytes=self.settings.max_response_bytes,
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
    host = _host.current()
    if host is not None:
        _host.forget()
        if host.waker is not None:
            await host.waker.close()
    await close_upstream_http()
