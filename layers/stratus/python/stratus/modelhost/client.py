"""Talks to ``OLLAMA_BASE_URL`` with explicit connect, read and idle timeouts.

An optional ``OLLAMA_API_KEY`` is sent as a bearer token to the authenticating proxy in front of
the GPU host. Transport failures become ``ModelHostUnavailableError``; whether its message names
the URL is the operator's choice (``STRATUS_EXPOSE_UPSTREAM_URLS``, on in the local stack only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from stratus.errors import ModelHostUnavailableError, ModelNotFoundError, UpstreamError
from stratus.resources import PerLoop
from stratus.settings import ModelHostSettings, model_host_settings, web_settings


def build_http_client(settings: ModelHostSettings) -> httpx.AsyncClient:
    headers = (
        {"Authorization": f"Bearer {settings.ollama_api_key}"} if settings.ollama_api_key else {}
    )
    return httpx.AsyncClient(
        base_url=settings.ollama_base_url,
        headers=headers,
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        ),
        limits=httpx.Limits(keepalive_expiry=settings.idle_timeout or None),
        # Only configured upstreams are ever contacted, and redirects could point elsewhere.
        follow_redirects=False,
        trust_env=False,
    )


class ModelHostClient:
    def __init__(
        self, http: httpx.AsyncClient, settings: ModelHostSettings, *, expose_url: bool = False
    ) -> None:
        self.http = http
        self.settings = settings
        self._expose_url = expose_url

    def unavailable(self) -> ModelHostUnavailableError:
        where = self.settings.ollama_base_url if self._expose_url else "OLLAMA_BASE_URL"
        return ModelHostUnavailableError(
            f"The model host is not answering (configured at {where}). "
            # Only what this version has: each feature joins this sentence when it lands.
            "Sign-in and accounts still work; try again once it is reachable."
        )

    async def get_json(self, path: str, *, timeout_seconds: float | None = None) -> Any:
        async with self.request("GET", path, timeout_seconds=timeout_seconds) as response:
            await response.aread()
            return response.json()

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        async with self.request("POST", path, json=body) as response:
            await response.aread()
            return response.json()

    async def version(self, *, timeout_seconds: float | None = None) -> str:
        payload = await self.get_json("/api/version", timeout_seconds=timeout_seconds)
        return str(payload.get("version", "unknown"))

    @asynccontextmanager
    async def request(
        self, method: str, path: str, *, timeout_seconds: float | None = None, **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """Send a request and stream the response; the connection closes when the block exits.

        Closing the connection is what makes Ollama stop generating, so callers that stop early
        just leave the block.
        """
        if timeout_seconds is not None:
            kwargs["timeout"] = httpx.Timeout(timeout_seconds)
        request = self.http.build_request(method, path, **kwargs)
        try:
            response = await self.http.send(request, stream=True)
        except (httpx.TransportError, httpx.TimeoutException):
            raise self.unavailable() from None
        try:
            if response.status_code >= 400:
                await response.aread()
                raise self._status_error(response)
            yield response
        finally:
            await response.aclose()

    @staticmethod
    def _status_error(response: httpx.Response) -> Exception:
        try:
            detail = str(response.json().get("error", ""))
        except ValueError:
            detail = ""
        if response.status_code == 404:
            return ModelNotFoundError(detail or "Model not found")
        if response.status_code in {502, 503, 504}:
            return ModelHostUnavailableError("The model host is unavailable; try again shortly.")
        return UpstreamError(f"The model host answered with an error ({response.status_code}).")

    async def aclose(self) -> None:
        await self.http.aclose()


async def _build() -> ModelHostClient:
    settings = model_host_settings()
    return ModelHostClient(
        build_http_client(settings), settings, expose_url=web_settings().expose_upstream_urls
    )


_client: PerLoop[ModelHostClient] = PerLoop(_build)


async def get_model_host() -> ModelHostClient:
    return await _client.get()


async def close_model_host() -> None:
    client = _client.current()
    if client is not None:
        _client.forget()
        await client.aclose()
