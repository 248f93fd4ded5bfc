"""The Postgres layer against a real embedded PostgreSQL with pgvector."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from stratus.db import close_pool, connection, get_pool
from stratus.errors import ServiceUnavailableError
from stratus.migrations import apply_migrations, pending_migrations
from stratus.settings import reset_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    """The stack environment; the pool built on this test's loop is closed afterwards."""
    yield env
    await close_pool()


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def test_pool_gives_a_working_connection_without_prepared_statements(db):
    async with connection() as conn:
        cursor = await conn.execute("SELECT 40 + %s", (2,))
        assert await cursor.fetchone() == (42,)
        assert conn.prepare_threshold is None
    # Warm: the same pool object is reused on this loop.
    assert await get_pool() is await get_pool()


async def test_no_named_prepared_statements_after_repeated_queries(db, monkeypatch):
    # GIVEN a single-connection pool, so every checkout is the same server session
    monkeypatch.setenv("DATABASE_POOL_SIZE", "1")
    reset_settings()
    backends = set()
    for i in range(10):
        async with connection() as conn:
            cursor = await conn.execute("SELECT pg_backend_pid(), %s::int + 1", (i,))
            row = await cursor.fetchone()
            assert row is not None
            backends.add(row[0])
    async with connection() as conn:
        cursor = await conn.execute("SELECT pg_backend_pid(), count(*) FROM pg_prepared_statements")
        row = await cursor.fetchone()
    assert row is not None
    assert backends == {row[0]}
    assert row[1] == 0


async def test_default_psycopg_would_have_prepared(db):
    # Control for the test above: psycopg's default prepares a query after its fifth run.
    async with await psycopg.AsyncConnection.connect(db["DATABASE_URL"]) as conn:
        for i in range(10):
            await conn.execute("SELECT %s::int + 1", (i,))
        cursor = await conn.execute("SELECT count(*) FROM pg_prepared_statements")
        row = await cursor.fetchone()
    assert row is not None
    assert row[0] >= 1


async def test_transaction_rolls_back_on_exception(db):
    table = f"rollback_probe_{uuid.uuid4().hex[:12]}"
    async with connection() as conn:
        await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")

    async def insert_then_fail() -> None:
        async with connection() as conn:
            await conn.execute(f"INSERT INTO {table} VALUES (1)")  # noqa: S608
            raise RuntimeError("boom")

    try:
        with pytest.raises(RuntimeError, match="boom"):
            await insert_then_fail()
        async with connection() as conn:
            await conn.execute(f"INSERT INTO {table} VALUES (2)")  # noqa: S608
        async with connection() as conn:
            cursor = await conn.execute(f"SELECT id FROM {table} ORDER BY id")  # noqa: S608
            rows = await cursor.fetchall()
        assert rows == [(2,)]
    finally:
        async with connection() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")


async def test_pool_exhaustion_is_service_unavailable(db, monkeypatch):
    monkeypatch.setenv("DATABASE_POOL_SIZE", "1")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "0.2")
    reset_settings()
    await close_pool()
    async with connection() as held:
        await held.execute("SELECT 1")
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as exc_info:
            async with connection():
                pass
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert exc_info.value.status_code == 503
    assert exc_info.value.headers == {"Retry-After": "2"}
    assert "postgres" not in exc_info.value.message.lower()  # no URL or driver detail
    # Once the holder is done, the pool serves again.
    async with connection() as conn:
        await conn.execute("SELECT 1")


async def test_down_database_is_service_unavailable_not_a_crash(db, monkeypatch, tmp_path):
    # GIVEN a URL whose socket directory has no server
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody:@/nowhere?host={tmp_path}")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "0.3")
    reset_settings()
    await close_pool()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError):
        async with connection():
            pass
    assert time.monotonic() - started < 3


def test_migrations_are_idempotent(env):
    url = env["DATABASE_URL"]
    assert apply_migrations(url) == []
    assert pending_migrations(url) == []
    with psycopg.connect(url) as conn:
        applied = conn.execute("SELECT migration_id FROM _yoyo_migration").fetchall()
    assert ("0001.baseline",) in applied


@pytest.fixture
def fresh_database(env: dict[str, str]) -> Iterator[str]:
    name = f"mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(env["DATABASE_URL"], name)
    finally:
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_migration_runs_apply_each_version_once(fresh_database):
    expected = pending_migrations(fresh_database)
    assert expected[0] == "0001.baseline"
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(apply_migrations, [fresh_database, fresh_database]))
    # yoyo's lock serialises the runs: one applies everything, the other finds nothing to do.
    assert sorted(results, key=len) == [[], expected]
    assert pending_migrations(fresh_database) == []


async def test_vector_extension_supports_iterative_index_scans(db):
    async with connection() as conn:
        cursor = await conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = await cursor.fetchone()
    assert row is not None, "the vector extension is not installed"
    major, minor = (int(part) for part in row[0].split(".")[:2])
    assert (major, minor) >= (0, 8)


async def _filtered_neighbours(conn: psycopg.AsyncConnection, mode: str) -> list[int]:
    await conn.execute(f"SET LOCAL hnsw.iterative_scan = {mode}")
    cursor = await conn.execute(
        "SELECT category FROM hnsw_items WHERE category = 3 "
        "ORDER BY embedding <-> '[0.5,0.5,0.5]' LIMIT 20"
    )
    return [row[0] for row in await cursor.fetchall()]


async def test_hnsw_iterative_scan_fills_a_filtered_query(db):
    async with connection() as conn:
        # ON COMMIT DROP: nothing outlives the transaction on the pooled session.
        await conn.execute(
            "CREATE TEMP TABLE hnsw_items (id int, category int, embedding vector(3)) "
            "ON COMMIT DROP"
        )
        await conn.execute("SELECT setseed(0.42)")
        await conn.execute(
            "INSERT INTO hnsw_items SELECT i, i % 10, "
            "ARRAY[random(), random(), random()]::vector FROM generate_series(1, 2000) i"
        )
        await conn.execute("CREATE INDEX ON hnsw_items USING hnsw (embedding vector_l2_ops)")
        await conn.execute("ANALYZE hnsw_items")
        await conn.execute("SET LOCAL enable_seqscan = off")
        cursor = await conn.execute(
            "EXPLAIN SELECT id FROM hnsw_items WHERE category = 3 "
            "ORDER BY embedding <-> '[0.5,0.5,0.5]' LIMIT 20"
        )
        plan = "\n".join(row[0] for row in await cursor.fetchall())
        assert "hnsw_items_embedding_idx" in plan

        # WHEN 90% of the neighbours are filtered out
        plain = await _filtered_neighbours(conn, "off")
        iterative = await _filtered_neighbours(conn, "relaxed_order")
        cursor = await conn.execute("SELECT current_setting('hnsw.iterative_scan')")
        inside = await cursor.fetchone()

    # THEN only the iterative scan keeps searching until the LIMIT is met
    assert len(plain) < 20
    assert iterative == [3] * 20
    assert inside == ("relaxed_order",)
    # SET LOCAL ended with the transaction: the pooled session carries no state onwards.
    async with connection() as conn:
        cursor = await conn.execute("SELECT current_setting('hnsw.iterative_scan', true)")
        after = await cursor.fetchone()
    assert after is not None
    assert after[0] != "relaxed_order"


async def test_pool_serves_concurrent_requests(db):
    async def one(i: int) -> int:
        async with connection() as conn:
            cursor = await conn.execute("SELECT %s::int, pg_sleep(0.05)", (i,))
            row = await cursor.fetchone()
            assert row is not None
            return int(row[0])

    assert await asyncio.gather(*(one(i) for i in range(8))) == list(range(8))
