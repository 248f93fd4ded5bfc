"""Readiness probes for each dependency a function may declare."""

from __future__ import annotations

from stratus.web.health import ReadinessCheck


async def _postgres() -> None:
    from stratus.db import connection

    async with connection() as conn:
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
