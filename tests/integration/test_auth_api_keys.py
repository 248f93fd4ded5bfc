"""API keys over HTTP: storage, header variants, injection strings, expiry and management."""

from __future__ import annotations

import hashlib
import threading
import time

import psycopg
import pytest

from tests.support.auth import admin_and_user, apply_env, create_key, signup
from tests.support.log_capture import remember

pytestmark = pytest.mark.anyio

ME = "/api/v1/auths/"
KEYS = "/api/v1/auths/api_keys"


def _rows(database_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT * FROM api_keys").fetchall()


async def test_only_a_hash_and_a_display_prefix_are_stored(auth_client, auth_env):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user, name="laptop")
    rows = _rows(auth_env["DATABASE_URL"])
    assert len(rows) == 1
    assert not any(key in str(value) for value in rows[0])
    assert hashlib.sha256(key.encode()).hexdigest() in rows[0]
    assert key[:11] in rows[0]
    listing = await auth_client.get(KEYS, headers=user.headers)
    assert key not in listing.text
    [info] = listing.json()
    assert info["name"] == "laptop"
    assert info["prefix"] == key[:11]


@pytest.mark.parametrize(
    "headers",
    [
        lambda key: {"Authorization": f"Bearer {key}"},
        lambda key: {"authorization": f"bearer {key}"},
        lambda key: {"x-api-key": key},
        lambda key: {"X-API-Key": key},
        lambda key: {"Authorization": f"Bearer {key}", "x-api-key": key},
    ],
    ids=["bearer", "lowercase-bearer", "x-api-key", "X-API-Key", "both-agreeing"],
)
async def test_every_header_that_carries_a_key_is_accepted(auth_client, headers):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    response = await auth_client.get(ME, headers=headers(key))
    assert response.status_code == 200
    assert response.json()["id"] == user.id


INJECTIONS = [
    "sk-' OR '1'='1",
    "sk-'; DROP TABLE users; --",
    'sk-" OR ""="',
    "sk-" + "0" * 44 + "'--",
    "sk-%' OR key_hash LIKE '%",
    "sk-\\x00",
    "sk-" + "a" * 48 + " OR 1=1",
    "sk-",
    "sk-" + "f" * 47,
    "sk-" + "F" * 48,
]


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
async def test_malformed_and_injection_keys_get_a_fast_401(auth_client, auth_env, header, value):
    _, user = await admin_and_user(auth_client)
    await create_key(auth_client, user)
    headers = {header: f"Bearer {value}" if header == "authorization" else value}
    response = await auth_client.get(ME, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or expired credentials."}
    # Both accounts and the key are intact.
    with psycopg.connect(auth_env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)
    assert len(_rows(auth_env["DATABASE_URL"])) == 1


async def test_malformed_keys_never_reach_the_database(auth_client, auth_env):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    hold = 3.0
    with psycopg.connect(auth_env["DATABASE_URL"]) as locker:
        # While this lock is held, any query that touches api_keys waits for it.
        locker.execute("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(hold, locker.rollback)
        release.start()
        started = time.monotonic()
        try:
            for value in INJECTIONS:
                response = await auth_client.get(ME, headers={"x-api-key": value})
                assert response.status_code == 401
            malformed_done = time.monotonic() - started
            # Control: a well-formed key does query the table, so it waits for the release.
            valid = await auth_client.get(ME, headers={"x-api-key": key})
            valid_done = time.monotonic() - started
        finally:
            release.join()
    assert malformed_done < hold / 2
    assert valid.status_code == 200
    assert valid_done >= hold - 0.1


async def test_conflicting_headers_are_refused(auth_client):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    mixed = {"Authorization": f"Bearer {user.token}", "x-api-key": key}
    assert (await auth_client.get(ME, headers=mixed)).status_code == 401
    not_a_key = {"x-api-key": user.token}
    assert (await auth_client.get(ME, headers=not_a_key)).status_code == 401


async def test_expired_keys_are_refused_and_past_expiry_is_rejected(auth_client, auth_env):
    _, user = await admin_and_user(auth_client)
    past = await auth_client.post(
        KEYS, json={"name": "old", "expires_at": "2001-01-01T00:00:00Z"}, headers=user.headers
    )
    assert past.status_code == 422
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    created = await auth_client.post(
        KEYS, json={"name": "soon", "expires_at": soon}, headers=user.headers
    )
    assert created.status_code == 201
    key = remember(created.json()["key"])
    assert created.json()["expires_at"] > time.time()
    assert (await auth_client.get(ME, headers={"x-api-key": key})).status_code == 200
    with psycopg.connect(auth_env["DATABASE_URL"]) as conn:
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second'")
    assert (await auth_client.get(ME, headers={"x-api-key": key})).status_code == 401


async def test_last_use_is_recorded(auth_client):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    [before] = (await auth_client.get(KEYS, headers=user.headers)).json()
    assert before["last_used_at"] is None
    await auth_client.get(ME, headers={"x-api-key": key})
    [after] = (await auth_client.get(KEYS, headers=user.headers)).json()
    assert abs(after["last_used_at"] - time.time()) < 60


async def test_keys_are_deleted_by_their_owner_only(auth_client):
    admin, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    [info] = (await auth_client.get(KEYS, headers=user.headers)).json()
    # Someone else's key id is simply not found, even for an admin.
    assert (
        await auth_client.delete(f"{KEYS}/{info['id']}", headers=admin.headers)
    ).status_code == 404
    assert (await auth_client.get(ME, headers={"x-api-key": key})).status_code == 200
    assert (
        await auth_client.delete(f"{KEYS}/{info['id']}", headers=user.headers)
    ).status_code == 200
    assert (await auth_client.get(ME, headers={"x-api-key": key})).status_code == 401


async def test_open_webui_single_key_shape(auth_client):
    _, user = await admin_and_user(auth_client)
    assert (await auth_client.get("/api/v1/auths/api_key", headers=user.headers)).status_code == 404
    first = await auth_client.post("/api/v1/auths/api_key", headers=user.headers)
    assert first.status_code == 200
    key = remember(first.json()["api_key"])
    assert set(first.json()) == {"api_key"}
    shown = await auth_client.get("/api/v1/auths/api_key", headers=user.headers)
    assert shown.json()["prefix"] == key[:11]
    assert key not in shown.text
    # Generating again replaces the key.
    second = remember(
        (await auth_client.post("/api/v1/auths/api_key", headers=user.headers)).json()["api_key"]
    )
    assert (await auth_client.get(ME, headers={"x-api-key": key})).status_code == 401
    assert (await auth_client.get(ME, headers={"x-api-key": second})).status_code == 200
    deleted = await auth_client.delete("/api/v1/auths/api_key", headers=user.headers)
    assert deleted.status_code == 200
    assert (await auth_client.get(ME, headers={"x-api-key": second})).status_code == 401


async def test_a_key_cannot_change_the_password_or_mint_keys(auth_client):
    _, user = await admin_and_user(auth_client)
    key = {"x-api-key": await create_key(auth_client, user)}
    change = await auth_client.post(
        "/api/v1/auths/update/password",
        json={"password": user.password, "new_password": "stolen-key-password"},
        headers=key,
    )
    assert change.status_code == 403
    assert (await auth_client.post(KEYS, json={"name": "more"}, headers=key)).status_code == 403
    assert (await auth_client.post("/api/v1/auths/api_key", headers=key)).status_code == 403


async def test_an_admin_key_reaches_admin_routes(auth_client):
    admin, _ = await admin_and_user(auth_client)
    key = await create_key(auth_client, admin)
    assert (await auth_client.get("/api/v1/users/", headers={"x-api-key": key})).status_code == 200


async def test_enable_api_key_false_refuses_use_and_creation(auth_client):
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    apply_env({"ENABLE_API_KEY": "false"})
    refused = await auth_client.get(ME, headers={"x-api-key": key})
    assert refused.status_code == 401
    assert refused.json() == {"detail": "API keys are disabled on this server."}
    assert (
        await auth_client.post(KEYS, json={"name": "x"}, headers=user.headers)
    ).status_code == 403


async def test_key_names_are_validated_and_unknown_fields_rejected(auth_client):
    account = await signup(auth_client)
    assert (
        await auth_client.post(KEYS, json={"name": ""}, headers=account.headers)
    ).status_code == 422
    extra = await auth_client.post(
        KEYS, json={"name": "n", "user_id": "x"}, headers=account.headers
    )
    assert extra.status_code == 422
