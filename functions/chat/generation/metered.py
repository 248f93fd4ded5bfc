"""Limits and token accounting for requests that are not streamed generations (embeddings)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from functions.chat.generation.registry import Admission, GenerationRegistry, refusal
from functions.chat.generation.report import limit_hit
from stratus.auth import Principal
from stratus.errors import ServiceUnavailableError
from stratus.observability import get_logger
from stratus.settings import ChatSettings


@dataclass
class Meter:
    tokens: int = 0


@asynccontextmanager
async def metered(
    registry: GenerationRegistry, settings: ChatSettings, principal: Principal, model: str
) -> AsyncIterator[Meter]:
    """Counts one request against the caller's limits (429 when over) and records its tokens."""
    task_id = uuid.uuid4().hex
    enforce = not (principal.is_admin and settings.limits_exempt_admins)
    try:
        admission = await registry.start(
            principal.user_id, task_id, None, enforce_limits=enforce, requested_at_ms=0
        )
    except ServiceUnavailableError:
        get_logger().warning("request admitted without the registry")
        admission = Admission(True)
    if not admission.allowed:
        limit_hit(model, admission.reason or "requests")
        raise refusal(admission)  # the registry gave the refused request back itself
    meter = Meter()
    try:
        yield meter
    finally:
        try:
            await registry.finish(principal.user_id, task_id, meter.tokens, admission)
        except ServiceUnavailableError:
            get_logger().warning("registry finish failed")
