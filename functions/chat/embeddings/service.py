"""Embeddings through the model catalog: the allow-list and limits apply as for chat."""

from __future__ import annotations

import base64
import struct
import uuid

from functions.chat.embeddings.schemas import (
    Embedding,
    EmbeddingsRequest,
    EmbeddingsResponse,
    Usage,
    as_list,
)
from functions.chat.generation.registry import Admission, GenerationRegistry, refusal
from stratus.auth import Principal
from stratus.errors import BadRequestError, ServiceUnavailableError
from stratus.modelhost import get_model_host
from stratus.observability import get_logger
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
        task_id = uuid.uuid4().hex
        admission = await self._admit(principal, task_id)
        tokens = 0
        try:
            result = await host.embed(choice, texts)
            tokens = result.prompt_tokens
        finally:
            await self._finish(principal, task_id, tokens, admission)
        encode = _base64 if req.encoding_format == "base64" else (lambda v: v)
        return EmbeddingsResponse(
            data=[Embedding(i, encode(v)) for i, v in enumerate(result.vectors)],
            model=req.model,
            usage=Usage(tokens, tokens),
        )

    async def _admit(self, principal: Principal, task_id: str) -> Admission:
        enforce = not (principal.is_admin and self.settings.limits_exempt_admins)
        try:
            admission = await self.registry.start(
                principal.user_id, task_id, None, enforce_limits=enforce, requested_at_ms=0
            )
        except ServiceUnavailableError:
            get_logger().warning("embeddings admitted without the registry")
            return Admission(True)
        if not admission.allowed:
            await self._finish(principal, task_id, 0, admission)
            raise refusal(admission)
        return admission

    async def _finish(
        self, principal: Principal, task_id: str, tokens: int, admission: Admission
    ) -> None:
        try:
            await self.registry.finish(principal.user_id, task_id, tokens, admission)
        except ServiceUnavailableError:
            get_logger().warning("registry finish failed for embeddings")
