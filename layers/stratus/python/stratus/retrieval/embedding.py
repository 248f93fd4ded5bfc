"""Embeddings for ingestion and queries, behind one small interface: ``await embed(texts)``.

The model, its size and the engine come from settings (``RAG_EMBEDDING_ENGINE``,
``RAG_EMBEDDING_MODEL``, ``STRATUS_RAG_EMBEDDING_DIMENSIONS``, ``RAG_EMBEDDING_BATCH_SIZE``).
Texts go upstream in batches, one HTTP call per batch, never one per chunk:

- ``ollama``: ``POST /api/embed`` on ``OLLAMA_BASE_URL`` with ``{"model", "input": [...]}``;
- ``openai``: ``POST /embeddings`` on ``RAG_OPENAI_API_BASE_URL`` (with ``RAG_OPENAI_API_KEY``),
  or, when that is unset, the model host's own OpenAI-compatible ``/v1/embeddings``.

Every vector is checked: the count must match the inputs, each must have the configured size and
finite values. A mismatch raises ``EmbeddingMismatchError`` naming the model and both sizes, so a
misconfigured model fails loudly instead of storing vectors no search can compare.

Swap point: when the model-host client moves to ``stratus.modelhost.ModelHost``,
``ModelHostEmbedder._call`` is the only method that talks HTTP; replace its body with
``ModelHost.embed(choice, batch)``. Batching and the checks stay here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stratus.errors import StratusError, UpstreamError
from stratus.settings import RagSettings, rag_settings

Vector = list[float]


class EmbeddingMismatchError(StratusError):
    """The model answered with vectors of the wrong size or count: a configuration error."""

    status_code = 409
    error_type = "conflict_error"
    code = "embedding_mismatch"


class Embedder(Protocol):
    model: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[Vector]: ...


def model_label(engine: str, model: str) -> str:
    """The name chunks record: Ollama's implicit ``:latest`` made explicit, so that
    ``nomic-embed-text`` and ``nomic-embed-text:latest`` count as the same model."""
    if engine != "ollama":
        return model
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"


@dataclass
class EmbeddingStats:
    """Counts one ingestion or query reports in its metrics."""

    calls: int = 0
    texts: int = 0


class ModelHostEmbedder:
    def __init__(self, settings: RagSettings, post: Callable[[str, dict[str, Any]], Any]) -> None:
        self.settings = settings
        self.engine = settings.embedding_engine
        self.model = model_label(settings.embedding_engine, settings.embedding_model)
        self.dimensions = settings.embedding_dimensions
        self._post = post
        self.stats = EmbeddingStats()

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        size = self.settings.embedding_batch_size
        for start in range(0, len(texts), size):
            batch = list(texts[start : start + size])
            vectors.extend(self._checked(await self._call(batch), len(batch)))
        return vectors

    async def _call(self, batch: list[str]) -> list[Any]:
        self.stats.calls += 1
        self.stats.texts += len(batch)
        if self.engine == "ollama":
            body = {"model": self.settings.embedding_model, "input": batch, "truncate": True}
            payload = await self._post("/api/embed", body)
            found = payload.get("embeddings") if isinstance(payload, dict) else None
        else:
            body = {"model": self.settings.embedding_model, "input": batch}
            payload = await self._post("/embeddings", body)
            data = payload.get("data") if isinstance(payload, dict) else None
            found = (
                [item.get("embedding") for item in sorted(data, key=_index)]
                if isinstance(data, list)
                else None
            )
        if not isinstance(found, list):
            raise UpstreamError("The embedding model answered without embeddings.")
        return found

    def _checked(self, found: list[Any], expected: int) -> list[Vector]:
        if len(found) != expected:
            raise EmbeddingMismatchError(
                f"The embedding model {self.model} returned {len(found)} vectors for "
                f"{expected} texts."
            )
        vectors: list[Vector] = []
        for vector in found:
            if not isinstance(vector, list) or len(vector) != self.dimensions:
                size = len(vector) if isinstance(vector, list) else 0
                raise EmbeddingMismatchError(
                    f"The embedding model {self.model} returned {size}-dimensional vectors, "
                    f"but STRATUS_RAG_EMBEDDING_DIMENSIONS is {self.dimensions}. Set it to the "
                    "model's size, or choose the model the chunks were made with."
                )
            values = [float(x) for x in vector]
            if not all(math.isfinite(x) for x in values):
                raise EmbeddingMismatchError(
                    f"The embedding model {self.model} returned a vector with non-finite values."
                )
            vectors.append(values)
        return vectors


def _index(item: Any) -> int:
    return int(item.get("index", 0)) if isinstance(item, dict) else 0


async def _post_to_model_host(path: str, body: dict[str, Any]) -> Any:
    import msgspec

    from stratus.modelhost import get_model_host

    client = await get_model_host()
    async with client.request("POST", path, json=body) as response:
        raw = await response.aread()
    try:
        # Thousands of floats per batch: msgspec parses them several times faster than json.
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise UpstreamError(
            "The embedding model answered with something other than JSON."
        ) from None


async def _post_to_openai(settings: RagSettings, path: str, body: dict[str, Any]) -> Any:
    if settings.openai_base_url is None:
        # The model host's own OpenAI-compatible API (Ollama serves it under /v1).
        return await _post_to_model_host("/v1" + path, body)
    from stratus.retrieval.openai_http import post_json

    return await post_json(settings, path, body)


def get_embedder(settings: RagSettings | None = None) -> ModelHostEmbedder:
    """A fresh embedder (it counts its own calls) over the process's shared HTTP clients."""
    current = settings or rag_settings()

    async def post(path: str, body: dict[str, Any]) -> Any:
        if current.embedding_engine == "ollama":
            return await _post_to_model_host(path, body)
        return await _post_to_openai(current, path, body)

    return ModelHostEmbedder(current, post)
