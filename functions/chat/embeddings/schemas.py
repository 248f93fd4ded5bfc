"""OpenAI's ``/v1/embeddings``: one text or a batch of texts in, one vector per text out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

# Ollama's /api/embed takes the whole batch in one call; this bounds one request's work.
MAX_INPUTS = 2048
Text = Annotated[str, Meta(max_length=1_000_000)]


class EmbeddingsRequest(Struct, forbid_unknown_fields=True):
    model: Annotated[str, Meta(min_length=1, max_length=200)]
    input: Text | Annotated[list[Text], Meta(min_length=1, max_length=MAX_INPUTS)]
    encoding_format: Literal["float", "base64"] = "float"
    # Accepted so OpenAI clients' defaults pass; models here have one size.
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None


class Embedding(Struct, frozen=True):
    index: int
    embedding: list[float] | str
    object: Literal["embedding"] = "embedding"


class Usage(Struct, frozen=True):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(Struct, frozen=True):
    data: list[Embedding]
    model: str
    usage: Usage
    object: Literal["list"] = "list"


def as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
