"""Sign-up: the first account is the only automatic admin, even when 30 race for it."""

from __future__ import annotations

import asyncio

import httpx
import psycopg
import pytest

from local.composed import create_local_app
from tests.support.auth import apply_env, bearer, signup, unique_email
from tests.support.live_server import live_server
from tests.support.log_capture import remember

pytestmark = pytest.mark.anyio


async def test_first_account_is_admin_and_later_ones_get_the_default_role(auth_client):
    first = await signup(auth_client)
    second = await signup(auth_client)
    assert first.role == "admin"
    assert second.role == "pending"
    me = await auth_client.get("/api/v1/auths/", headers=second.headers)
    assert me.json() == {
        "id": second.id,
        "email": second.email,
        "name": "Test User",
        "role": "pending",
    }


async def test_signup_response_has_token_and_user(auth_client):
    email = unique_email()
    password = remember("correct horse battery staple")
    response = await auth_client.post(
        "/api/v1/auths/signup", json={"name": " Ada ", "email": email.upper(), "password": password}
    )
    body = response.json()
    remember(body["token"])
    assert response.status_code == 200
    assert set(body) == {"token", "token_type", "expires_at", "id", "email", "name", "role"}
    assert body["token_type"] == "Bearer"
    # Emails are case-insensitive and stored lower-cased; names are trimmed.
    assert body["email"] == email
    assert body["name"] == "Ada"
    assert "password" not in response.text
    assert password not in response.text


async def test_default_user_role_setting_applies(auth_client):
    apply_env({"DEFAULT_USER_ROLE": "user"})
    await signup(auth_client)
    assert (await signup(auth_client)).role == "user"


async def test_duplicate_email_is_409_in_any_case(auth_client):
    account = await signup(auth_client)
    response = await auth_client.post(
        "/api/v1/auths/signup",
        json={"name": "x", "email": account.email.upper(), "password": "another-password"},
    )
    assert response.status_code == 409


async def test_signup_refused_when_disabled_except_for_the_first_admin(auth_client):
    apply_env({"ENABLE_SIGNUP": "false"})
    # A fresh install must still be able to get its administrator (as in Open WebUI).
    admin = await signup(auth_client)
    assert admin.role == "admin"
    response = await auth_client.post(
        "/api/v1/auths/signup",
        json={"name": "late", "email": unique_email(), "password": "a-password-1"},
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Sign-up is disabled on this server."}


@pytest.mark.parametrize(
    "extra",
    [{"role": "admin"}, {"id": "00000000-0000-0000-0000-000000000000"}, {"token_version": 5}],
)
async def test_signup_rejects_unknown_fields_such_as_role(auth_client, extra):
    await signup(auth_client)  # the admin exists, so an accepted role would be an escalation
    email = unique_email()
    body = {"name": "Mallory", "email": email, "password": "mallory-password", **extra}
    response = await auth_client.post("/api/v1/auths/signup", json=body)
    assert response.status_code == 422
    assert next(iter(extra)) in response.json()["detail"]
    signin = await auth_client.post(
        "/api/v1/auths/signin", json={"email": email, "password": "mallory-password"}
    )
    assert signin.status_code == 401  # nothing was created


async def test_open_webui_profile_image_url_is_accepted_and_ignored(auth_client):
    response = await auth_client.post(
        "/api/v1/auths/signup",
        json={
            "name": "Owui",
            "email": unique_email(),
            "password": remember("owui-password-1"),
            "profile_image_url": "/user.png",
        },
    )
    assert response.status_code == 200
    remember(response.json()["token"])


async def _race(client: httpx.AsyncClient, count: int) -> list[dict[str, str]]:
    async def one(i: int) -> httpx.Response:
        password = remember(f"race-password-{i}-long-enough")
        return await client.post(
            "/api/v1/auths/signup",
            json={"name": f"racer {i}", "email": unique_email(f"race{i}"), "password": password},
        )

    responses = await asyncio.gather(*(one(i) for i in range(count)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses][:3]
    bodies = [r.json() for r in responses]
    for body in bodies:
        remember(body["token"])
    return bodies


def _fresh_install(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE users, first_admin_claim CASCADE")


async def test_thirty_concurrent_first_signups_make_exactly_one_admin(auth_env):
    # A real server, so the sign-ups overlap in the app and in Postgres (the test client would
    # send them one at a time), with enough pool connections for their transactions to overlap.
    apply_env({"DATABASE_POOL_SIZE": "10"})
    with live_server(create_local_app()) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            for _ in range(5):
                _fresh_install(auth_env["DATABASE_URL"])
                bodies = await _race(client, 30)
                assert sum(b["role"] == "admin" for b in bodies) == 1
                with psycopg.connect(auth_env["DATABASE_URL"]) as conn:
                    roles = conn.execute(
                        "SELECT role, count(*) FROM users GROUP BY role"
                    ).fetchall()
                assert dict(roles) == {"admin": 1, "pending": 29}


async def test_only_the_admin_signup_can_see_admin_routes(auth_client):
    admin = await signup(auth_client)
    other = await signup(auth_client)
    assert (await auth_client.get("/api/v1/users/", headers=bearer(admin.token))).status_code == 200
    assert (await auth_client.get("/api/v1/users/", headers=bearer(other.token))).status_code == 403
