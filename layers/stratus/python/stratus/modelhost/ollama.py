"""Calls to an Ollama host (or the authenticating proxy in front of the GPU host)."""

from __future__ import annotations

from typing import Any

from stratus.errors import UpstreamError
from stratus.modelhost.http import DEFAULT_MAX_BYTES, UpstreamHTTP
from stratus.modelhost.upstreams import Upstream


async def version(http: UpstreamHTTP, upstream: Upstream) -> str:
    payload = await http.json(upstream, "GET", "/api/version")
    return str(payload.get("version", "unknown")) if isinstance(payload, dict) else "unknown"


async def tags(http: UpstreamHTTP, upstream: Upstream) -> list[dict[str, Any]]:
    payload = await http.json(upstream, "GET", "/api/tags")
    models = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(models, list):
        raise UpstreamError("The model host sent a model list we could not read.")
    return [m for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)]


async def embed(
    http: UpstreamHTTP,
    upstream: Upstream,
    model: str,
    inputs: list[str],
    *,
    keep_alive: str | int | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[list[list[float]], int]:
    """Ollama's batched ``/api/embed``: every input in one call. Returns vectors and tokens."""
    body: dict[str, Any] = {"model": model, "input": inputs}
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    payload = await http.json(upstream, "POST", "/api/embed", body, max_bytes=max_bytes)
    vectors = payload.get("embeddings") if isinstance(payload, dict) else None
    if not isinstance(vectors, list) or len(vectors) != len(inputs):
        raise UpstreamError("The model host sent embeddings we could not read.")
    return vectors, int(payload.get("prompt_eval_count") or 0)
