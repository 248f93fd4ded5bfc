"""Readiness probes for each dependency a function may declare."""

from __future__ import annotations

from stratus.settings import web_settings
from stratus.web.health import ReadinessCheck


async def _postgres() -> None:
    from stratus.db import connection

    # The pool would wait its own timeout for a connection it cannot make (longer than the
    # readiness budget by default). Giving up within the budget lets a database that refuses or
    # never answers connections read as "down", not as a probe that hung.
    budget = web_settings().readiness_timeout
    async with connection(wait_seconds=budget * 0.75) as conn:
        await conn.execute("SELECT 1")


async def _dynamodb() -> None:
    from stratus.ephemeral import get_ephemeral_store

    await get_ephemeral_store().ping()


async def _storage() -> None:
    from stratus.storage import get_object_store

    await get_object_store().ping()


async def _model_host() -> None:
    from stratus.modelhost import get_model_host

    await (await get_model_host()).version()


POSTGRES = ReadinessCheck("postgres", _postgres)
DYNAMODB = ReadinessCheck("dynamodb", _dynamodb)
OBJECT_STORAGE = ReadinessCheck("object_storage", _storage)
MODEL_HOST = ReadinessCheck("model_host", _model_host, required=False)
