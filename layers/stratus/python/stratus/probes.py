"""The dependencies a function may declare: each one's readiness probe and its resource.

Each resource imports its driver when it is prepared (at the function's init), not when this
module is imported: a function that doesn't declare the model host never loads aiohttp.
"""

from __future__ import annotations

from stratus.lifecycle import Resource
from stratus.settings import web_settings
from stratus.web.health import DependencyState, ReadinessCheck


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
    """The host's version; a host that sleeps or wakes (scale-to-zero) is ``asleep`` or
    ``starting``, which makes the service degraded, not down."""
    import asyncio

    from stratus.errors import ModelHostUnavailableError
    from stratus.modelhost import get_model_host

    host = await get_model_host()
    if host.waker is None:
        await host.version()
        return
    if host.waker.waking:
        raise DependencyState("starting")
    try:
        # Half the budget, so that the controller can still be asked within it.
        async with asyncio.timeout(web_settings().readiness_timeout / 2):
            await host.version()
    except (ModelHostUnavailableError, TimeoutError):
        state = await host.sleep_state()
        if state is not None:
            raise DependencyState(state.value) from None
        raise


async def _prepare_postgres() -> None:
    from stratus.db import prepare_pool

    await prepare_pool()


async def _reset_postgres() -> None:
    from stratus.db import close_pool

    await close_pool()


async def _prepare_dynamodb() -> None:
    from stratus.ephemeral.table import prepare_table

    await prepare_table()


async def _reset_dynamodb() -> None:
    from stratus.ephemeral.table import reset_table

    await reset_table()


async def _prepare_storage() -> None:
    from stratus.storage import prepare_object_store

    await prepare_object_store()


async def _reset_storage() -> None:
    from stratus.storage import reset_object_store

    await reset_object_store()


async def _prepare_model_host() -> None:
    from stratus.modelhost import prepare_model_host

    await prepare_model_host()


async def _reset_model_host() -> None:
    from stratus.modelhost import close_model_host

    await close_model_host()


POSTGRES = ReadinessCheck(
    "postgres", _postgres, resource=Resource("postgres", _prepare_postgres, _reset_postgres)
)
DYNAMODB = ReadinessCheck(
    "dynamodb", _dynamodb, resource=Resource("dynamodb", _prepare_dynamodb, _reset_dynamodb)
)
OBJECT_STORAGE = ReadinessCheck(
    "object_storage",
    _storage,
    resource=Resource("object_storage", _prepare_storage, _reset_storage),
)
MODEL_HOST = ReadinessCheck(
    "model_host",
    _model_host,
    required=False,
    resource=Resource("model_host", _prepare_model_host, _reset_model_host),
)
