"""Embeddings for ingestion and queries, behind one small interface: ``await embed(texts)``.

The model, its size and the engine come from settings (``RAG_EMBEDDING_MODEL``,
``STRATUS_RAG_EMBEDDING_DIMENSIONS``, ``RAG_EMBEDDING_BATCH_SIZE``, ``RAG_EMBEDDING_ENGINE``).
Texts go upstream in batches, one HTTP call per batch, never one per chunk:

- by default through ``stratus.modelhost.ModelHost.embed``: the model is looked up in the model
  catalog (so it may live on any configured upstream, round-robin across hosts serving it) and
  the upstream's own batched API is used (Ollama's ``/api/embed``, or ``/embeddings`` on an
  OpenAI-compatible upstream);
- with ``RAG_EMBEDDING_ENGINE=openai`` and ``RAG_OPENAI_API_BASE_URL`` set: ``POST /embeddings``
  on that dedicated embeddings API, with ``RAG_OPENAI_API_KEY``.

Every vector is checked: the count must match the inputs, each must have the configured size and
finite values. A mismatch raises ``EmbeddingMismatchError`` naming the model and both sizes, so a
misconfigured model fails loudly instead of storing vectors no search can compare.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stratus.auth.principal import Principal, Role, Via
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
    def __init__(
        self, settings: RagSettings, post: Callable[[str, list[str]], Awaitable[Any]]
    ) -> None:
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
        found = await self._post(self.settings.embedding_model, batch)
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


# The embedding model is the operator's choice (RAG_EMBEDDING_MODEL), not a user's: the per-role
# allow-list (STRATUS_USER_MODELS) is for models users pick, so the lookup runs as the system.
_SYSTEM = Principal(
    user_id="stratus-retrieval",
    email="",
    name="retrieval",
    role=Role.ADMIN,
    via=Via.SESSION,
    credential_id="system",
)


async def _embed_on_model_host(model: str, batch: list[str]) -> list[list[float]]:
    from stratus.modelhost import get_model_host

    host = await get_model_host()
    choice = await host.resolve(model, _SYSTEM)
    return (await host.embed(choice, batch)).vectors


async def _embed_on_openai_api(settings: RagSettings, model: str, batch: list[str]) -> Any:
    from stratus.retrieval.openai_http import post_json

    payload = await post_json(settings, "/embeddings", {"model": model, "input": batch})
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return None
    return [item.get("embedding") for item in sorted(data, key=_index)]


def get_embedder(settings: RagSettings | None = None) -> ModelHostEmbedder:
    """A fresh embedder (it counts its own calls) over the process's shared HTTP clients."""
    current = settings or rag_settings()

    async def post(model: str, batch: list[str]) -> Any:
        if current.embedding_engine == "openai" and current.openai_base_url:
            return await _embed_on_openai_api(current, model, batch)
        return await _embed_on_model_host(model, batch)

    return ModelHostEmbedder(current, post)
