"""Fixtures and helpers for the auth tests: a composed app on real Postgres and moto."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from tests.support.log_capture import (
    CapturingHandler,
    issued_secrets,
    leaks,
    pattern_leaks,
    remember,
)

# Strong, and only ever used by tests.
TEST_SECRET = "stratus-test-signing-key-" + "7f3a9c2e5b8d1f40a6c3e9b2d7f1a5c8"
# Fast hashing for the suite; only allowed with STRATUS_DEV_MODE (a test asserts the defaults).
FAST_ARGON2 = {
    "STRATUS_DEV_MODE": "true",
    "STRATUS_ARGON2_TIME_COST": "1",
    "STRATUS_ARGON2_MEMORY_KIB": "1024",
    "STRATUS_ARGON2_PARALLELISM": "1",
}


def apply_env(values: Mapping[str, str]) -> None:
    from stratus.settings import reset_settings

    os.environ.update(values)
    reset_settings()


def _clear_limiter_counters() -> None:
    """Limiter counts live in the shared ephemeral table; each test starts from zero."""
    from stratus.ephemeral.table import ephemeral_model

    model = ephemeral_model()
    with model.batch_write() as batch:
        for item in model.scan(model.pk.startswith("auth#")):
            batch.delete(item)


def reset_auth_state(database_url: str) -> None:
    """No accounts, sessions, keys or limiter counts: the state of a fresh install."""
    import psycopg

    _clear_limiter_counters()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE users, first_admin_claim CASCADE")
        # TRUNCATE fires no delete triggers: the full-text postings and statistics of the
        # chunks that went with the users go the same way (migration 0006).
        conn.execute("TRUNCATE chunk_terms, rag_lexemes")
        conn.execute("UPDATE rag_text_index SET config = 'english', chunks = 0, tokens = 0")


@pytest.fixture
def auth_env(env: dict[str, str]) -> dict[str, str]:
    """Empty account tables and no limiter counts left over from earlier tests."""
    values = {
        "WEBUI_SECRET_KEY": TEST_SECRET,
        "STRATUS_SIGNUP_MAX_PER_IP": "0",
        **FAST_ARGON2,
    }
    apply_env(values)
    reset_auth_state(env["DATABASE_URL"])
    return {**env, **values}


@pytest.fixture
async def auth_client(auth_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    from local.composed import create_local_app

    async with AsyncTestClient(create_local_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session", autouse=True)
def log_capture() -> Iterator[CapturingHandler]:
    """Captures every log record of the session; at the end, no remembered secret and nothing
    shaped like a credential may appear in any of them."""
    handler = CapturingHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    records = handler.snapshot()
    found = leaks(records, issued_secrets())
    assert not found, f"secrets written to logs: {found[:5]}"
    shaped = pattern_leaks(records)
    assert not shaped, f"credential-shaped strings written to logs: {shaped[:5]}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str
    token: str
    role: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.test"


async def signup(
    client: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str | None = None,
    name: str = "Test User",
) -> Account:
    email = email or unique_email()
    password = remember(password or f"pw-{uuid.uuid4().hex}")
    response = await client.post(
        "/api/v1/auths/signup", json={"name": name, "email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Account(body["id"], body["email"], password, remember(body["token"]), body["role"])


async def signin(client: httpx.AsyncClient, email: str, password: str, **kwargs: Any) -> Any:
    response = await client.post(
        "/api/v1/auths/signin", json={"email": email, "password": password}, **kwargs
    )
    if response.status_code == 200:
        remember(response.json()["token"])
    return response


async def admin_and_user(client: httpx.AsyncClient) -> tuple[Account, Account]:
    """The first sign-up (the admin) and a second account the admin has approved."""
    admin = await signup(client, name="Admin")
    pending = await signup(client)
    response = await client.post(
        f"/api/v1/users/{pending.id}/update", json={"role": "user"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return admin, Account(pending.id, pending.email, pending.password, pending.token, "user")


async def create_key(client: httpx.AsyncClient, account: Account, name: str = "k") -> str:
    response = await client.post(
        "/api/v1/auths/api_keys", json={"name": name}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return remember(response.json()["key"])
