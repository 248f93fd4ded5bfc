"""Calls to an OpenAI-compatible upstream (``OPENAI_API_BASE_URLS``)."""

from __future__ import annotations

from typing import Any

from stratus.errors import UpstreamError
from stratus.modelhost.http import DEFAULT_MAX_BYTES, UpstreamHTTP
from stratus.modelhost.upstreams import Upstream


async def models(http: UpstreamHTTP, upstream: Upstream) -> list[dict[str, Any]]:
    payload = await http.json(upstream, "GET", "/models")
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise UpstreamError("The upstream sent a model list we could not read.")
    return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


async def embed(
    http: UpstreamHTTP,
    upstream: Upstream,
    model: str,
    inputs: list[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[list[list[float]], int]:
    payload = await http.json(
        upstream,
        "POST",
        "/embeddings",
        {"model": model, "input": inputs, "encoding_format": "float"},
        max_bytes=max_bytes,
    )
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or len(data) != len(inputs):
        raise UpstreamError("The upstream sent embeddings we could not read.")
    ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
    usage = payload.get("usage") or {}
    return [item.get("embedding") for item in ordered], int(usage.get("prompt_tokens") or 0)
