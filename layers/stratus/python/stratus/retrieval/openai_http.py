"""The HTTP client for an OpenAI-compatible embeddings API set by ``RAG_OPENAI_API_BASE_URL``.

Built lazily once per event loop, like the model-host client, with the same timeouts and no
redirects: only the configured host is ever contacted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratus.errors import ModelHostUnavailableError, ModelNotFoundError, UpstreamError
from stratus.resources import PerLoop
from stratus.settings import RagSettings, model_host_settings

if TYPE_CHECKING:
    import httpx


async def _build() -> httpx.AsyncClient:
    import httpx

    timeouts = model_host_settings()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=timeouts.connect_timeout,
            read=timeouts.read_timeout,
            write=timeouts.connect_timeout,
            pool=timeouts.connect_timeout,
        ),
        follow_redirects=False,
        trust_env=False,
    )


_client: PerLoop[httpx.AsyncClient] = PerLoop(_build)


async def post_json(settings: RagSettings, path: str, body: dict[str, Any]) -> Any:
    import httpx

    assert settings.openai_base_url is not None
    client = await _client.get()
    headers = (
        {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else {}
    )
    try:
        response = await client.post(settings.openai_base_url + path, json=body, headers=headers)
    except (httpx.TransportError, httpx.TimeoutException):
        raise ModelHostUnavailableError(
            "The embeddings API (RAG_OPENAI_API_BASE_URL) is not answering; try again shortly."
        ) from None
    if response.status_code == 404:
        raise ModelNotFoundError("The embedding model was not found by the embeddings API.")
    if response.status_code in {502, 503, 504}:
        raise ModelHostUnavailableError("The embeddings API is unavailable; try again shortly.")
    if response.status_code >= 400:
        raise UpstreamError(f"The embeddings API answered with an error ({response.status_code}).")
    try:
        return response.json()
    except ValueError:
        raise UpstreamError("The embeddings API answered with something other than JSON.") from None


async def close_openai_http() -> None:
    client = _client.current()
    if client is not None:
        _client.forget()
        await client.aclose()
