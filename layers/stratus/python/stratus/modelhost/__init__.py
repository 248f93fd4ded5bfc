"""The model upstreams: Ollama hosts (the GPU host) and OpenAI-compatible APIs, over aiohttp."""

from stratus.modelhost.catalog import CatalogModel, ModelChoice
from stratus.modelhost.host import (
    Embeddings,
    ModelHost,
    close_model_host,
    get_model_host,
    prepare_model_host,
)
from stratus.modelhost.upstreams import Upstream

__all__ = [
    "CatalogModel",
    "Embeddings",
    "ModelChoice",
    "ModelHost",
    "Upstream",
    "close_model_host",
    "get_model_host",
    "prepare_model_host",
]
