"""Embeddings through the model catalog: the allow-list and limits apply as for chat."""

from __future__ import annotations

import base64
import struct

from functions.chat.embeddings.schemas import (
    Embedding,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Usage,
    as_list,
)
from functions.chat.generation.metered import metered
from functions.chat.generation.registry import GenerationRegistry
from functions.chat.translate import usage_estimate
from stratus.auth import Principal
from stratus.errors import BadRequestError
from stratus.modelhost import get_model_host
from stratus.settings import ChatSettings


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 form: little-endian float32s, which the official client asks for."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


class EmbeddingsService:
    def __init__(self, registry: GenerationRegistry, settings: ChatSettings) -> None:
        self.registry = registry
        self.settings = settings

    async def embed(self, principal: Principal, req: EmbeddingsRequest) -> EmbeddingsResponse:
        host = await get_model_host()
        choice = await host.resolve(req.model, principal)
        texts = as_list(req.input)
        if any(not text for text in texts):
            raise BadRequestError("input must not contain empty strings.", param="input")
        async with metered(self.registry, self.settings, principal, req.model) as meter:
            result = await host.embed(choice, texts)
            # An upstream that reports no count still spends the budget: estimated from input.
            tokens = result.prompt_tokens or usage_estimate.prompt_tokens(texts)
            meter.tokens = tokens
        as_wire = _base64 if req.encoding_format == "base64" else None
        return EmbeddingsResponse(
            data=[Embedding(i, as_wire(v) if as_wire else v) for i, v in enumerate(result.vectors)],
            model=req.model,
            usage=Usage(tokens, tokens),
        )
