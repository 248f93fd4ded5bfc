"""Postgres connection exhaustion under a burst (matrix row 28): 503s with Retry-After, never a
500 or a trace, and no half-written chats.

A Postgres of its own with a low ``max_connections``; other clients hold all its slots but one,
so the app's pool (asking for twenty) can open a single connection, and waits 0.1 s for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account
from tests.support.chat import chat_body, serve_chat_stack
from tests.support.services import server_data_dir

pytestmark = pytest.mark.anyio

MAX_CONNECTIONS = 8


@pytest.fixture(scope="module")
def small_postgres() -> Iterator[str]:
    from local.postgres import start_embedded_postgres
    from stratus.migrations import apply_migrations

    with server_data_dir() as scratch:
        server = start_embedded_postgres(scratch / "pgdata")
        with psycopg.connect(server.database_url, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        server.stop()
        server = start_embedded_postgres(scratch / "pgdata")
        try:
            with psycopg.connect(server.database_url) as conn:
                shown = conn.execute("SHOW max_connections").fetchone()
            assert shown == (str(MAX_CONNECTIONS),)
            apply_migrations(server.database_url)
            yield server.database_url
        finally:
            server.stop()


def _hog(url: str, count: int) -> list[psycopg.Connection]:
    """Hold ``count`` of the server's connection slots (fewer if it refuses more)."""
    held = []
    for _ in range(count):
        try:
            held.append(psycopg.connect(url, autocommit=True))
        except psycopg.OperationalError:
            break
    return held


async def _new_chat(stack, user: Account) -> str:
    """A chat, waiting out the brief pool timeout this test sets if the machine is slow."""
    for _ in range(50):
        response = await stack.http.post(
            "/api/v1/chats/new", json={"chat": {"title": "burst"}}, headers=user.headers
        )
        if response.status_code != 503:
            break
        await asyncio.sleep(0.1)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def _burst(stack, user: Account, chats: list[str]) -> list[tuple[int, dict[str, str]]]:
    """A completion into each chat, and a chat listing for every second one, all at once."""

    async def one(chat_id: str | None, i: int) -> tuple[int, dict[str, str]]:
        if chat_id is None:
            response = await stack.http.get("/api/v1/chats/", headers=user.headers)
        else:
            body = chat_body(f"burst {i}", chat_id=chat_id)
            response = await stack.http.post(
                "/v1/chat/completions", json=body, headers=user.headers
            )
        return response.status_code, {**response.headers, "body": response.text}

    work = [*chats, *([None] * (len(chats) // 2))]
    return await asyncio.gather(*(one(chat_id, i) for i, chat_id in enumerate(work)))


async def test_a_burst_on_exhausted_postgres_gets_503s_and_leaves_no_half_written_chat(
    auth_env: dict[str, str], emulator: EmulatorHandle, small_postgres: str
):
    settings = {
        "DATABASE_URL": small_postgres,
        # The pool would like far more connections than the server has, and waits briefly.
        "DATABASE_POOL_SIZE": "20",
        "DATABASE_POOL_TIMEOUT": "0.1",
    }
    # GIVEN other clients hold every slot of the server but one, so the app's pool (which
    # would like 20) can open a single connection
    held = _hog(small_postgres, MAX_CONNECTIONS - 1)
    try:
        async with serve_chat_stack(emulator, settings) as stack:
            user = stack.user
            chats = [await _new_chat(stack, user) for _ in range(40)]
            # WHEN a burst of completions and listings arrives
            answers = await _burst(stack, user, chats)
    finally:
        for conn in held:
            conn.close()

    # THEN each is a 200 or a 503 with Retry-After, never a 500 or a trace
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {200, 503}, answers
    assert 503 in statuses
    assert 200 in statuses
    for status, headers in answers:
        if status == 503:
            assert int(headers["retry-after"]) > 0
        assert "Traceback" not in headers["body"]
    # AND no chat is half-written: each has no messages, or its question and a finished answer
    with psycopg.connect(small_postgres) as conn:
        rows = conn.execute(
            "SELECT chat_id, role, status FROM messages WHERE chat_id = ANY(%s)", (chats,)
        ).fetchall()
    by_chat: dict[str, list[tuple[str, str]]] = {}
    for chat_id, role, status in rows:
        by_chat.setdefault(chat_id, []).append((role, status))
    for chat_id, messages in by_chat.items():
        assert sorted(messages) == [("assistant", "complete"), ("user", "complete")], (
            chat_id,
            messages,
        )
    # Every completion answered 200 was saved.
    answered = {chats[i] for i, (status, _) in enumerate(answers[: len(chats)]) if status == 200}
    assert answered <= set(by_chat)
