"""Revocation events: keep the old token, do the event, call again with the old token."""

from __future__ import annotations

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from local.composed import create_local_app
from tests.support.auth import admin_and_user, apply_env, create_key, signin, signup
from tests.support.log_capture import remember

pytestmark = pytest.mark.anyio

ME = "/api/v1/auths/"


async def _second_session(client, account) -> dict[str, str]:
    response = await signin(client, account.email, account.password)
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_signout_kills_that_token_only_and_survives_a_restart(auth_client):
    _, user = await admin_and_user(auth_client)
    other = await _second_session(auth_client, user)
    response = await auth_client.post("/api/v1/auths/signout", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == {"status": True}
    assert (await auth_client.get(ME, headers=user.headers)).status_code == 401
    assert (await auth_client.get(ME, headers=other)).status_code == 200
    # A new process (a restarted local stack) reads the same durable state from Postgres.
    async with AsyncTestClient(create_local_app()) as restarted:
        assert (await restarted.get(ME, headers=user.headers)).status_code == 401
        assert (await restarted.get(ME, headers=other)).status_code == 200


async def test_password_change_keeps_this_session_and_ends_the_others(auth_client):
    _, user = await admin_and_user(auth_client)
    other = await _second_session(auth_client, user)
    new_password = remember("a-brand-new-password")
    response = await auth_client.post(
        "/api/v1/auths/update/password",
        json={"password": user.password, "new_password": new_password},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert response.json() is True
    assert (await auth_client.get(ME, headers=user.headers)).status_code == 200
    assert (await auth_client.get(ME, headers=other)).status_code == 401
    assert (await signin(auth_client, user.email, user.password)).status_code == 401
    assert (await signin(auth_client, user.email, new_password)).status_code == 200


async def test_password_change_needs_the_current_password(auth_client):
    _, user = await admin_and_user(auth_client)
    other = await _second_session(auth_client, user)
    response = await auth_client.post(
        "/api/v1/auths/update/password",
        json={"password": "wrong-current", "new_password": "whatever-new-1"},
        headers=user.headers,
    )
    assert response.status_code == 400
    assert (await auth_client.get(ME, headers=other)).status_code == 200


async def test_admin_revoke_ends_every_session_of_the_user(auth_client):
    admin, user = await admin_and_user(auth_client)
    other = await _second_session(auth_client, user)
    response = await auth_client.post(
        f"/api/v1/users/{user.id}/sessions/revoke", headers=admin.headers
    )
    assert response.status_code == 200
    assert (await auth_client.get(ME, headers=user.headers)).status_code == 401
    assert (await auth_client.get(ME, headers=other)).status_code == 401
    assert (await auth_client.get(ME, headers=admin.headers)).status_code == 200
    # Signing in again works: revocation ends sessions, it does not lock the account.
    assert (await signin(auth_client, user.email, user.password)).status_code == 200
    missing = await auth_client.post("/api/v1/users/nope/sessions/revoke", headers=admin.headers)
    assert missing.status_code == 404


def _as_key(key: str) -> list[dict[str, str]]:
    """Both headers that carry a key: each must stop working, not just one of them."""
    return [{"x-api-key": key}, {"Authorization": f"Bearer {key}"}]


async def _key_answers(client, key: str) -> list[int]:
    return [(await client.get(ME, headers=headers)).status_code for headers in _as_key(key)]


async def _change_password(client, account) -> str:
    new_password = remember(f"changed-{account.password}")
    response = await client.post(
        "/api/v1/auths/update/password",
        json={"password": account.password, "new_password": new_password},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    return new_password


async def test_admin_revoke_ends_the_users_api_keys_too(auth_client):
    admin, user = await admin_and_user(auth_client)
    keys = [await create_key(auth_client, user, name) for name in ("laptop", "ci")]
    admin_key = await create_key(auth_client, admin)
    for key in keys:
        assert await _key_answers(auth_client, key) == [200, 200]

    response = await auth_client.post(
        f"/api/v1/users/{user.id}/sessions/revoke", headers=admin.headers
    )

    assert response.status_code == 200
    for key in keys:
        assert await _key_answers(auth_client, key) == [401, 401]
    # Only that user's credentials end, and a fresh sign-in sees no key left to list.
    assert await _key_answers(auth_client, admin_key) == [200, 200]
    again = await signin(auth_client, user.email, user.password)
    fresh = {"Authorization": f"Bearer {again.json()['token']}"}
    assert (await auth_client.get("/api/v1/auths/api_keys", headers=fresh)).json() == []


async def test_password_change_ends_the_users_api_keys_by_default(auth_client):
    admin, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    admin_key = await create_key(auth_client, admin)
    assert await _key_answers(auth_client, key) == [200, 200]

    await _change_password(auth_client, user)

    assert await _key_answers(auth_client, key) == [401, 401]
    assert await _key_answers(auth_client, admin_key) == [200, 200]
    # The session that changed the password stays, and sees no key left.
    listing = await auth_client.get("/api/v1/auths/api_keys", headers=user.headers)
    assert listing.status_code == 200
    assert listing.json() == []


async def test_password_change_keeps_api_keys_when_the_server_says_so(auth_client):
    apply_env({"STRATUS_KEEP_API_KEYS_ON_PASSWORD_CHANGE": "true"})
    _, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)

    await _change_password(auth_client, user)

    assert await _key_answers(auth_client, key) == [200, 200]


@pytest.mark.parametrize(("keep", "after"), [("false", 401), ("true", 200)])
async def test_an_admin_password_reset_follows_the_same_rule(auth_client, keep, after):
    apply_env({"STRATUS_KEEP_API_KEYS_ON_PASSWORD_CHANGE": keep})
    admin, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    response = await auth_client.post(
        f"/api/v1/users/{user.id}/update",
        json={"password": remember("reset-by-the-admin-1")},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    assert await _key_answers(auth_client, key) == [after, after]
    # The sessions end either way: the token version moved.
    assert (await auth_client.get(ME, headers=user.headers)).status_code == 401


async def test_a_demoted_admin_gets_403_on_the_very_next_request(auth_client):
    admin, user = await admin_and_user(auth_client)
    promote = await auth_client.post(
        f"/api/v1/users/{user.id}/update", json={"role": "admin"}, headers=admin.headers
    )
    assert promote.status_code == 200
    assert (await auth_client.get("/api/v1/users/", headers=user.headers)).status_code == 200
    demote = await auth_client.post(
        f"/api/v1/users/{user.id}/update", json={"role": "user"}, headers=admin.headers
    )
    assert demote.json()["role"] == "user"
    # Same token as before; the role is read from the live row.
    assert (await auth_client.get("/api/v1/users/", headers=user.headers)).status_code == 403
    assert (await auth_client.get(ME, headers=user.headers)).json()["role"] == "user"


async def test_demotion_to_pending_applies_to_api_keys_too(auth_client):
    admin, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    assert (
        await auth_client.get("/api/v1/auths/api_keys", headers={"x-api-key": key})
    ).status_code == 200
    await auth_client.post(
        f"/api/v1/users/{user.id}/update", json={"role": "pending"}, headers=admin.headers
    )
    assert (
        await auth_client.get("/api/v1/auths/api_keys", headers={"x-api-key": key})
    ).status_code == 403


async def test_deleting_a_user_kills_tokens_and_keys_and_removes_every_row(auth_client, auth_env):
    admin, user = await admin_and_user(auth_client)
    key = await create_key(auth_client, user)
    response = await auth_client.delete(f"/api/v1/users/{user.id}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() is True
    assert (await auth_client.get(ME, headers=user.headers)).status_code == 401
    assert (await auth_client.get(ME, headers={"x-api-key": key})).status_code == 401
    with psycopg.connect(auth_env["DATABASE_URL"]) as conn:
        for table in ("users", "sessions", "api_keys"):
            column = "id" if table == "users" else "user_id"
            count = conn.execute(
                f"SELECT count(*) FROM {table} WHERE {column} = %s",  # noqa: S608
                (user.id,),
            ).fetchone()
            assert count == (0,), table
    # The address is free again: deletion is complete, not a flag.
    again = await signup(auth_client, email=user.email)
    assert again.id != user.id
