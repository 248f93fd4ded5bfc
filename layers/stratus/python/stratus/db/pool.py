"""The process's Postgres pool: built at init (no connection), opened by its first use.

RDS Proxy multiplexes connections only while a session is not pinned, so nothing here sets session
state, takes advisory locks or uses named prepared statements (``prepare_threshold=None``; psycopg
would otherwise prepare a query after its fifth run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from stratus.errors import ServiceUnavailableError
from stratus.observability.tracing import span
from stratus.resources import PerLoop
from stratus.settings import database_settings

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool


async def _build_pool() -> AsyncConnectionPool:
    from psycopg_pool import AsyncConnectionPool

    from stratus.runtime_secrets import database_url

    settings = database_settings()
    return AsyncConnectionPool(
        # Read from Secrets Manager at init when DATABASE_URL_SECRET_ARN is set: cached here.
        database_url(settings),
        min_size=1,
        max_size=settings.pool_size,
        timeout=settings.pool_timeout,
        kwargs={"prepare_threshold": None},
        check=AsyncConnectionPool.check_connection if settings.check_on_checkout else None,
        # Opened by the first request that needs it: init makes no connection, so a SnapStart
        # snapshot holds no socket.
        open=False,
        name="stratus",
    )


_pool: PerLoop[AsyncConnectionPool] = PerLoop(_build_pool)


async def prepare_pool() -> None:
    """Build the pool for the running loop without connecting (Lambda's init)."""
    await _pool.get()


async def get_pool() -> AsyncConnectionPool:
    pool = await _pool.get()
    if pool.closed:
        # Don't wait for the first connection here: a down database should surface as a 503
        # from the request that needs it. Opening twice is harmless (psycopg_pool's own lock).
        await pool.open(wait=False)
    return pool


@asynccontextmanager
async def connection(*, wait_seconds: float | None = None) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in a transaction: committed on success, rolled back on error.

    ``wait_seconds`` overrides ``DATABASE_POOL_TIMEOUT`` for callers on a shorter budget.
    """
    from psycopg_pool import PoolTimeout

    pool = await get_pool()
    try:
        with span("postgres.transaction"):
            async with pool.connection(timeout=wait_seconds) as conn:
                yield conn
    except PoolTimeout:
        raise ServiceUnavailableError(
            "The database is busy or unavailable; try again shortly.", retry_after=2
        ) from None


@asynccontextmanager
async def autocommit(*, wait_seconds: float | None = None) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit: each statement is its own transaction and psycopg
    sends no ``BEGIN``/``COMMIT``, so a one-statement call is one network round trip.

    Autocommit is psycopg's client-side switch, not a session setting (RDS Proxy sees nothing);
    it is put back before the connection returns to the pool, so ``connection()`` stays
    transactional for every other caller.
    """
    async with connection(wait_seconds=wait_seconds) as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            if not conn.closed:
                await conn.set_autocommit(False)


async def close_pool() -> None:
    """Close the running loop's pool and forget it: the next use builds a new one."""
    pool = _pool.current()
    if pool is not None:
        _pool.forget()
        await pool.close()
