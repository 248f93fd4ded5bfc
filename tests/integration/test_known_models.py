"""The last known model lists in Postgres: what every instance lists while a host sleeps."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from stratus.db import close_pool, connection, get_pool
from stratus.modelhost.known_models import KnownModels, upstream_key
from stratus.modelhost.upstreams import Upstream
from stratus.settings import reset_settings

pytestmark = pytest.mark.anyio

ENTRIES: list[dict[str, Any]] = [
    {"name": "llama3.2:latest", "size": 2019393189},
    {"name": "qwen3:8b"},
]


@pytest.fixture
async def upstream(env: dict[str, str]) -> AsyncIterator[Upstream]:
    yield Upstream("ollama", f"http://gpu-{uuid.uuid4().hex[:8]}.internal:8080", "secret-key")
    await close_pool()


async def seen_at(upstream: Upstream) -> object:
    async with connection() as conn:
        cursor = await conn.execute(
            "SELECT seen_at FROM model_catalog WHERE upstream = %s", (upstream_key(upstream),)
        )
        row = await cursor.fetchone()
    return row[0] if row else None


async def test_a_list_one_instance_saw_is_what_another_recalls(upstream: Upstream):
    await KnownModels().remember(upstream, ENTRIES)
    assert await KnownModels().recall(upstream) == ENTRIES
    # Never the API key: the row is keyed by kind and URL only.
    assert "secret-key" not in upstream_key(upstream)


async def test_an_unchanged_list_is_not_written_again_and_a_change_is(upstream: Upstream):
    first = KnownModels()
    await first.remember(upstream, ENTRIES)
    written = await seen_at(upstream)
    # A second instance that lists the same models: the row is left alone.
    await KnownModels().remember(upstream, list(ENTRIES))
    assert await seen_at(upstream) == written
    changed = [*ENTRIES, {"name": "new-model:latest"}]
    await first.remember(upstream, changed)
    assert await seen_at(upstream) != written
    assert await KnownModels().recall(upstream) == changed


async def test_a_host_never_seen_has_no_models(upstream: Upstream):
    assert await KnownModels().recall(upstream) == []


async def test_without_the_database_the_catalog_still_answers(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
):
    await close_pool()
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    reset_settings()
    known = KnownModels()
    await known.remember(upstream, ENTRIES)  # logged, not raised
    assert await known.recall(upstream) == []
    # The pool's workers are still retrying the dead address: don't wait for them.
    await (await get_pool()).close(timeout=0.1)
    await close_pool()
