"""Fixtures and helpers for the rag tests: the composed app on real Postgres, moto and the
model-host emulator, signed-in users, uploads and waiting for them to be ready."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account, admin_and_user, apply_env, signup


def embedding_model() -> tuple[str, int]:
    """The emulator's copy of the default model (nomic-embed-text, 768) when it has one, else
    its own 384-dimensional model: the tests run against either emulator."""
    from local.emulator import config

    name = getattr(config, "NOMIC_EMBED_MODEL", None)
    if name:
        return str(name).removesuffix(":latest"), int(getattr(config, "NOMIC_DIMENSIONS", 768))
    from local.emulator.content import EMBEDDING_DIM

    return "emulator-embed", EMBEDDING_DIM


def rag_values(emulator: EmulatorHandle, upload_dir: Path) -> dict[str, str]:
    model, dimensions = embedding_model()
    return {
        "OLLAMA_BASE_URL": emulator.base_url,
        "RAG_EMBEDDING_MODEL": model,
        "STRATUS_RAG_EMBEDDING_DIMENSIONS": str(dimensions),
        "UPLOAD_DIR": str(upload_dir),
        "STORAGE_PROVIDER": "local",
    }


@pytest.fixture
def rag_env(
    auth_env: dict[str, str], emulator: EmulatorHandle, tmp_path: Path
) -> Iterator[dict[str, str]]:
    from functions.rag.ingest import background

    values = rag_values(emulator, tmp_path / "uploads")
    apply_env(values)
    yield {**auth_env, **values}
    # Background jobs of this test must not outlive it (the next test empties the tables).
    assert background.drain(60)


@pytest.fixture
async def rag_client(rag_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    from local.composed import create_local_app

    async with AsyncTestClient(create_local_app()) as client:
        yield client


async def users(client: httpx.AsyncClient) -> tuple[Account, Account, Account]:
    """The admin (first sign-up) and two approved users, Alice and Bob."""
    admin, alice = await admin_and_user(client)
    pending = await signup(client, name="Bob")
    response = await client.post(
        f"/api/v1/users/{pending.id}/update", json={"role": "user"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    bob = Account(pending.id, pending.email, pending.password, pending.token, "user")
    return admin, alice, bob


async def upload(
    client: httpx.AsyncClient,
    account: Account,
    name: str,
    content: bytes,
    *,
    params: dict[str, Any] | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        "/api/v1/files/",
        files={"file": (name, content, content_type)},
        params=params or {},
        headers=account.headers,
    )


async def uploaded(client: httpx.AsyncClient, account: Account, name: str, content: bytes) -> str:
    response = await upload(client, account, name, content)
    assert response.status_code == 200, response.text
    file_id: str = response.json()["id"]
    return file_id


async def wait_done(
    client: httpx.AsyncClient, account: Account, file_id: str, within: float = 30
) -> dict[str, Any]:
    """Poll the status route until the file is ready or failed."""
    import anyio

    deadline = time.monotonic() + within
    while True:
        response = await client.get(
            f"/api/v1/files/{file_id}/process/status", headers=account.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] in ("ready", "failed"):
            return body
        assert time.monotonic() < deadline, body
        await anyio.sleep(0.05)


def db_rows(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the database directly, to check what the API left behind."""
    import os

    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def chunk_count(file_id: str) -> int:
    return int(db_rows("SELECT count(*) FROM chunks WHERE file_id = %s", file_id)[0][0])


def stored_objects(upload_dir: Path) -> list[str]:
    """Every object the local store holds, as keys relative to its directory."""
    if not upload_dir.exists():
        return []
    return sorted(str(p.relative_to(upload_dir)) for p in upload_dir.rglob("*") if p.is_file())


def insert_ready_file(
    user_id: str, file_id: str, vectors: Any, texts: list[str], model: str
) -> None:
    """A ready file with these chunks, written straight into the tables (COPY): for searches
    over more chunks than the API could ingest in a test's time."""
    import os

    import psycopg

    from stratus.retrieval.vectors import vector_literal

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute(
            "INSERT INTO files (id, user_id, filename, storage_key, kind, status, chunk_count, "
            "embedding_model) VALUES (%s, %s, %s, %s, 'txt', 'ready', %s, %s)",
            (file_id, user_id, f"{file_id}.txt", f"files/{file_id}", len(texts), model),
        )
        with conn.cursor().copy(
            "COPY chunks (file_id, user_id, position, text, embedding, embedding_model, "
            "dimensions) FROM STDIN"
        ) as copy:
            for position, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
                copy.write_row(
                    (file_id, user_id, position, text, vector_literal(vector), model, len(vector))
                )


def points_around(center: list[float], spread: float, count: int, seed: int) -> list[list[float]]:
    """``count`` unit vectors scattered around ``center`` (a seeded, repeatable corpus)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    points = np.asarray(center) + rng.normal(0, spread, size=(count, len(center)))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.tolist()  # type: ignore[no-any-return]


def bulk_load(load: Callable[[], None]) -> None:
    """Load without the HNSW index and build it afterwards, as a bulk load should: maintaining
    the graph row by row would take most of a minute. The index is the migration's, rebuilt."""
    _, dimensions = embedding_model()
    index = f"chunks_hnsw_{dimensions}"
    definition = db_rows("SELECT indexdef FROM pg_indexes WHERE indexname = %s", index)[0][0]
    db_rows(f"DROP INDEX {index}")
    try:
        load()
    finally:
        db_rows(definition)
        db_rows("ANALYZE chunks")
