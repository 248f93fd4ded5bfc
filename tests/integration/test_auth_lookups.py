"""The per-request credential lookups against real Postgres: one statement, one round trip."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest

from stratus.auth import api_keys
from stratus.auth.api_keys_store import ApiKeysStore
from stratus.auth.sessions_store import SessionsStore
from stratus.auth.tokens import Claims
from stratus.db import close_pool, connection
from tests.support.chats import insert_user
from tests.support.pgtrace import traced_pool

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(env: dict[str, str]) -> AsyncIterator[None]:
    yield
    await close_pool()


def _claims(user_id: str) -> Claims:
    now = int(time.time())
    return Claims(user_id, str(uuid.uuid4()), 0, now, now + 3600)


async def test_session_lookup_is_one_statement_without_begin_or_commit(db, monkeypatch):
    # GIVEN a live session
    sessions = SessionsStore()
    user_id = await insert_user()
    claims = _claims(user_id)
    await sessions.create(claims)
    # WHEN every request's lookup runs on a traced connection
    async with traced_pool(monkeypatch) as sent:
        principal = await sessions.resolve(claims)
    # THEN it found the user in one statement and one round trip: no BEGIN, no COMMIT
    assert principal is not None
    assert principal.user_id == user_id
    assert sent.messages.count("Parse") == 1, sent.text
    assert sent.messages.count("Sync") == 1, sent.text
    assert "BEGIN" not in sent.text
    assert "COMMIT" not in sent.text


async def test_api_key_lookup_is_one_statement_when_its_last_use_is_fresh(db, monkeypatch):
    # GIVEN a key used a moment ago (so no last-use write is due)
    user_id = await insert_user()
    key = api_keys.generate()
    async with connection() as conn:
        await conn.execute(
            "INSERT INTO api_keys (id, user_id, name, display_prefix, key_hash, last_used_at) "
            "VALUES (%s, %s, 'k', %s, %s, now())",
            (str(uuid.uuid4()), user_id, api_keys.display_prefix(key), api_keys.digest(key)),
        )
    # WHEN it is looked up on a traced connection
    async with traced_pool(monkeypatch) as sent:
        principal = await ApiKeysStore().resolve(api_keys.digest(key))
    # THEN one statement, one round trip
    assert principal is not None
    assert principal.user_id == user_id
    assert sent.messages.count("Sync") == 1, sent.text
    assert "BEGIN" not in sent.text
    assert "COMMIT" not in sent.text


async def test_the_pool_stays_transactional_after_an_autocommit_lookup(db, monkeypatch):
    # GIVEN a pool of one connection that just served an autocommit lookup
    sessions = SessionsStore()
    user_id = await insert_user()
    async with traced_pool(monkeypatch):
        await sessions.resolve(_claims(user_id))
    # WHEN the same connection serves a transactional block that fails half-way
    marker = f"rolled-back-{uuid.uuid4()}"

    async def write_then_fail() -> None:
        async with connection() as conn:
            await conn.execute("UPDATE users SET name = %s WHERE id = %s", (marker, user_id))
            raise RuntimeError("after the first write")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    # THEN the write was rolled back: autocommit did not leak past the lookup
    async with connection() as conn:
        cursor = await conn.execute("SELECT name FROM users WHERE id = %s", (user_id,))
        row = await cursor.fetchone()
    assert row is not None
    assert row[0] != marker
