"""Administration: add, list, update and delete accounts; profile updates by their owner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stratus.db import connection
from tests.support.auth import admin_and_user, apply_env, signin, signup, unique_email
from tests.support.log_capture import remember

pytestmark = pytest.mark.anyio

USERS = "/api/v1/users"


async def test_admin_adds_a_user_who_can_then_sign_in(auth_client):
    admin, _ = await admin_and_user(auth_client)
    email, password = unique_email("added"), remember("added-user-password")
    response = await auth_client.post(
        "/api/v1/auths/add",
        json={"name": "Added", "email": email, "password": password, "role": "user"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["email"], body["role"]) == (email, "user")
    # No session is minted for someone else: the answer carries no token.
    assert "token" not in body
    assert (await signin(auth_client, email, password)).status_code == 200


async def test_only_admins_may_add_users(auth_client):
    _, user = await admin_and_user(auth_client)
    response = await auth_client.post(
        "/api/v1/auths/add",
        json={"name": "x", "email": unique_email(), "password": "p-123456", "role": "admin"},
        headers=user.headers,
    )
    assert response.status_code == 403


async def test_users_are_listed_in_pages(auth_client):
    admin, _ = await admin_and_user(auth_client)
    for _ in range(3):
        await signup(auth_client)
    first = (await auth_client.get(f"{USERS}/?page=1&limit=2", headers=admin.headers)).json()
    third = (await auth_client.get(f"{USERS}/?page=3&limit=2", headers=admin.headers)).json()
    assert first["total"] == third["total"] == 5
    assert len(first["users"]) == 2
    assert len(third["users"]) == 1
    assert first["users"][0]["id"] == admin.id  # oldest first
    assert set(first["users"][0]) == {
        "id",
        "email",
        "name",
        "role",
        "created_at",
        "updated_at",
        "last_active_at",
    }
    assert "password" not in str(first)
    too_big = await auth_client.get(f"{USERS}/?limit=1000", headers=admin.headers)
    assert too_big.status_code == 422


async def test_admin_updates_name_email_and_role(auth_client):
    admin, user = await admin_and_user(auth_client)
    new_email = unique_email("renamed")
    response = await auth_client.post(
        f"{USERS}/{user.id}/update",
        json={"name": "Renamed", "email": new_email.upper(), "role": "admin"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["email"], response.json()["role"]) == (
        "Renamed",
        new_email,
        "admin",
    )
    assert (await signin(auth_client, new_email, user.password)).status_code == 200


async def test_update_errors(auth_client):
    admin, user = await admin_and_user(auth_client)
    taken = await auth_client.post(
        f"{USERS}/{user.id}/update", json={"email": admin.email}, headers=admin.headers
    )
    assert taken.status_code == 409
    missing = await auth_client.post(
        f"{USERS}/does-not-exist/update", json={"name": "x"}, headers=admin.headers
    )
    assert missing.status_code == 404
    unknown = await auth_client.post(
        f"{USERS}/{user.id}/update", json={"token_version": 0}, headers=admin.headers
    )
    assert unknown.status_code == 422
    bad_role = await auth_client.post(
        f"{USERS}/{user.id}/update", json={"role": "root"}, headers=admin.headers
    )
    assert bad_role.status_code == 422


async def test_admins_cannot_demote_or_delete_themselves(auth_client):
    admin, _ = await admin_and_user(auth_client)
    demote = await auth_client.post(
        f"{USERS}/{admin.id}/update", json={"role": "user"}, headers=admin.headers
    )
    assert demote.status_code == 403
    assert (
        await auth_client.delete(f"{USERS}/{admin.id}", headers=admin.headers)
    ).status_code == 403
    assert (await auth_client.get(f"{USERS}/", headers=admin.headers)).status_code == 200


async def test_admin_password_reset_ends_the_users_sessions(auth_client):
    admin, user = await admin_and_user(auth_client)
    new_password = remember("reset-by-the-admin")
    response = await auth_client.post(
        f"{USERS}/{user.id}/update", json={"password": new_password}, headers=admin.headers
    )
    assert response.status_code == 200
    assert (await auth_client.get("/api/v1/auths/", headers=user.headers)).status_code == 401
    assert (await signin(auth_client, user.email, new_password)).status_code == 200
    # Open WebUI's admin screen sends an empty password to mean "unchanged".
    unchanged = await auth_client.post(
        f"{USERS}/{user.id}/update", json={"name": "Same", "password": ""}, headers=admin.headers
    )
    assert unchanged.status_code == 200
    assert (await signin(auth_client, user.email, new_password)).status_code == 200


async def test_deleting_an_unknown_user_is_404(auth_client):
    admin, _ = await admin_and_user(auth_client)
    assert (await auth_client.delete(f"{USERS}/nobody", headers=admin.headers)).status_code == 404


async def test_profile_update_changes_the_name_only(auth_client):
    _, user = await admin_and_user(auth_client)
    response = await auth_client.post(
        "/api/v1/auths/update/profile",
        json={"name": "New Name", "profile_image_url": "/x.png"},
        headers=user.headers,
    )
    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    blank = await auth_client.post(
        "/api/v1/auths/update/profile", json={"name": "   "}, headers=user.headers
    )
    assert blank.status_code == 422


@pytest.mark.parametrize("extra", [{"role": "admin"}, {"email": "new@example.test"}, {"id": "x"}])
async def test_profile_update_cannot_set_role_or_other_fields(auth_client, extra):
    _, user = await admin_and_user(auth_client)
    response = await auth_client.post(
        "/api/v1/auths/update/profile", json={"name": "Mallory", **extra}, headers=user.headers
    )
    assert response.status_code == 422
    assert next(iter(extra)) in response.json()["detail"]
    me = (await auth_client.get("/api/v1/auths/", headers=user.headers)).json()
    assert (me["role"], me["name"], me["email"]) == ("user", "Test User", user.email)


async def test_each_listed_user_shows_their_last_activity(auth_client):
    admin, _ = await admin_and_user(auth_client)
    email, password = unique_email("quiet"), remember("quiet-user-password")
    added = await auth_client.post(
        "/api/v1/auths/add",
        json={"name": "Quiet", "email": email, "password": password, "role": "user"},
        headers=admin.headers,
    )
    user_id = added.json()["id"]

    async def last_active() -> int | None:
        listed = (await auth_client.get(f"{USERS}/?limit=100", headers=admin.headers)).json()
        found: int | None = {u["id"]: u for u in listed["users"]}[user_id]["last_active_at"]
        return found

    # Added by the admin, never signed in: no activity yet.
    assert await last_active() is None
    assert (await signin(auth_client, email, password)).status_code == 200
    signed_in = await last_active()
    assert signed_in is not None
    assert abs(signed_in - datetime.now(UTC).timestamp()) < 60
    # A later API key use or chat turn counts too: the latest of the three is shown.
    async with connection() as conn:
        await conn.execute(
            "UPDATE sessions SET created_at = '2020-01-01T00:00:00Z' WHERE user_id = %s",
            (user_id,),
        )
        await conn.execute(
            "INSERT INTO api_keys (id, user_id, name, display_prefix, key_hash, last_used_at) "
            "VALUES ('k-quiet', %s, 'script', 'sk-q', 'hash-quiet', '2021-06-01T00:00:00Z')",
            (user_id,),
        )
    assert await last_active() == int(datetime(2021, 6, 1, tzinfo=UTC).timestamp())
    async with connection() as conn:
        await conn.execute(
            "INSERT INTO chats (id, user_id, title, updated_at) "
            "VALUES ('c-quiet', %s, 'hi', '2022-03-01T00:00:00Z')",
            (user_id,),
        )
    assert await last_active() == int(datetime(2022, 3, 1, tzinfo=UTC).timestamp())


async def test_config_says_a_fresh_server_is_onboarding_until_the_first_account(auth_client):
    apply_env({"ENABLE_SIGNUP": "false"})
    fresh = await auth_client.get("/api/config")
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert (body["status"], body["name"], body["onboarding"]) == (True, "Stratus", True)
    # Sign-up is off, yet the first account (the administrator) may still be made.
    assert body["features"] == {
        "auth": True,
        "enable_signup": True,
        "enable_login_form": True,
        "enable_api_key": True,
    }
    await signup(auth_client)
    after = (await auth_client.get("/api/config")).json()
    assert "onboarding" not in after
    assert after["features"]["enable_signup"] is False
    apply_env({"ENABLE_SIGNUP": "true"})
    assert (await auth_client.get("/api/config")).json()["features"]["enable_signup"] is True
