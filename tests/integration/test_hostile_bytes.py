"""Hostile bytes on every auth route: control characters, bidi overrides, ANSI escapes, invalid
UTF-8. Each is refused with a 4xx JSON answer that names the field, before any hashing or SQL."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient

from local.composed import create_local_app
from tests.support.auth import admin_and_user, apply_env, signin, signup, unique_email

pytestmark = pytest.mark.anyio

NUL = "\u0000"
HOSTILE_IN_ANY_TEXT = {
    "nul": "a\u0000b",
    "escape": "a\u001b[31mred",
    "delete": "a\u007fb",
    "c1-csi": "a\u009b31mb",
    "newline": "line\nbreak",
    "trailing-newline": "ends\n",
    "tab": "a\tb",
}
HOSTILE_IN_NAMES = {
    **HOSTILE_IN_ANY_TEXT,
    "rtl-override": "evil\u202egnp.exe",
    "ltr-override": "a\u202db",
    "rtl-isolate": "a\u2067b",
}
EMAIL_NAME = {"email": "x@example.test", "name": "X", "password": "pw-long-enough-1"}


def _problem(response: Any, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail: str = response.json()["detail"]
    assert f"{field}:" in detail, detail
    for internal in ("`", "$.", "regex", "\\x", "Expected"):
        assert internal not in detail, detail
    return detail


async def _count_users(env: dict[str, str]) -> int:
    async with await psycopg.AsyncConnection.connect(env["DATABASE_URL"]) as conn:
        row = await (await conn.execute("SELECT count(*) FROM users")).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("kind", sorted(HOSTILE_IN_NAMES))
async def test_signup_name_refuses_controls_and_bidi_overrides(auth_client, auth_env, kind):
    body = {**EMAIL_NAME, "email": unique_email(), "name": HOSTILE_IN_NAMES[kind]}
    response = await auth_client.post("/api/v1/auths/signup", json=body)
    _problem(response, "name")
    assert await _count_users(auth_env) == 0


@pytest.mark.parametrize("kind", sorted(HOSTILE_IN_ANY_TEXT))
@pytest.mark.parametrize("field", ["email", "password"])
async def test_signup_email_and_password_refuse_controls(auth_client, auth_env, field, kind):
    value = HOSTILE_IN_ANY_TEXT[kind]
    body = {**EMAIL_NAME, "email": unique_email()}
    body[field] = f"{value}@example.test" if field == "email" else value
    response = await auth_client.post("/api/v1/auths/signup", json=body)
    _problem(response, field)
    assert await _count_users(auth_env) == 0


async def test_signup_refuses_an_email_with_a_trailing_newline(auth_client, auth_env):
    # Python's "$" matches before a final newline; the pattern must not.
    body = {**EMAIL_NAME, "email": unique_email() + "\n"}
    _problem(await auth_client.post("/api/v1/auths/signup", json=body), "email")


@pytest.mark.parametrize("field", ["email", "password"])
async def test_signin_refuses_nul(auth_client, field):
    account = await signup(auth_client)
    body = {"email": account.email, "password": account.password}
    body[field] = body[field] + NUL
    _problem(await auth_client.post("/api/v1/auths/signin", json=body), field)
    # The refusal is not counted as a failed guess, and the real password still works.
    assert (await signin(auth_client, account.email, account.password)).status_code == 200


@pytest.mark.parametrize("kind", sorted(HOSTILE_IN_NAMES))
async def test_profile_update_refuses_hostile_names(auth_client, kind):
    _, user = await admin_and_user(auth_client)
    response = await auth_client.post(
        "/api/v1/auths/update/profile", json={"name": HOSTILE_IN_NAMES[kind]}, headers=user.headers
    )
    _problem(response, "name")
    me = await auth_client.get("/api/v1/auths/", headers=user.headers)
    assert me.json()["name"] == "Test User"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "a\u0000b"),
        ("name", "\u202eevil"),
        ("name", "\u001b[2Jwiped"),
        ("email", "a\u0000@example.test"),
        ("password", "pass\u0000word"),
        ("profile_image_url", "data:image/png;base64,\u0000"),
    ],
)
async def test_admin_update_refuses_controls(auth_client, field, value):
    admin, user = await admin_and_user(auth_client)
    response = await auth_client.post(
        f"/api/v1/users/{user.id}/update", json={field: value}, headers=admin.headers
    )
    _problem(response, field)
    listing = await auth_client.get("/api/v1/users/", headers=admin.headers)
    row = next(u for u in listing.json()["users"] if u["id"] == user.id)
    assert (row["name"], row["email"]) == ("Test User", user.email)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "a\u0000b"), ("name", "a\u202eb"), ("email", "\u0000@x.y"), ("password", "\u0000")],
)
async def test_admin_add_refuses_controls(auth_client, auth_env, field, value):
    admin, _ = await admin_and_user(auth_client)
    body = {**EMAIL_NAME, "email": unique_email(), field: value}
    before = await _count_users(auth_env)
    _problem(await auth_client.post("/api/v1/auths/add", json=body, headers=admin.headers), field)
    assert await _count_users(auth_env) == before


@pytest.mark.parametrize("name", ["k\u0000", "k\u202e", "k\u001b[0m", "k\n"])
async def test_api_key_names_refuse_controls(auth_client, name):
    _, user = await admin_and_user(auth_client)
    response = await auth_client.post(
        "/api/v1/auths/api_keys", json={"name": name}, headers=user.headers
    )
    _problem(response, "name")


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("POST", "/api/v1/users/a%00b/update", "user_id"),
        ("DELETE", "/api/v1/users/a%00b", "user_id"),
        ("POST", "/api/v1/users/a%1bb/sessions/revoke", "user_id"),
        ("DELETE", "/api/v1/auths/api_keys/a%00b", "key_id"),
    ],
)
async def test_path_ids_refuse_controls(auth_client, method, path, field):
    admin, _ = await admin_and_user(auth_client)
    response = await auth_client.request(
        method, path, json={"name": "x"} if method == "POST" else None, headers=admin.headers
    )
    _problem(response, field)


async def test_display_names_keep_ordinary_unicode(auth_client):
    # Right-to-left scripts, emoji and accents are names, not attacks.
    for name in ("עברית", "مرحبا", "Zoë 🚀", "名前"):
        account = await signup(auth_client, name=name)
        me = await auth_client.get("/api/v1/auths/", headers=account.headers)
        assert me.json()["name"] == name


async def test_hostile_input_is_refused_before_any_limiter_hash_or_sql(env):
    # GIVEN Postgres and DynamoDB both unreachable: any limiter call or SQL would answer 503
    apply_env(
        {
            "DATABASE_URL": "postgresql://stratus@127.0.0.1:9/none?connect_timeout=1",
            "DATABASE_POOL_TIMEOUT": "1",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "STRATUS_DEV_MODE": "true",
            "STRATUS_SIGNUP_MAX_PER_IP": "5",
        }
    )
    async with AsyncTestClient(create_local_app()) as client:
        # WHEN a clean sign-up is sent, THEN it reaches the dependencies (the control case)
        clean = await client.post("/api/v1/auths/signup", json=EMAIL_NAME)
        assert clean.status_code == 503, clean.text
        # WHEN hostile ones are sent, THEN they are refused at the edge, never reaching them
        for field in ("name", "email", "password"):
            body = {**EMAIL_NAME, field: EMAIL_NAME[field] + NUL}
            _problem(await client.post("/api/v1/auths/signup", json=body), field)
            if field != "name":
                body = {"email": EMAIL_NAME["email"], "password": EMAIL_NAME["password"]}
                body[field] += NUL
                _problem(await client.post("/api/v1/auths/signin", json=body), field)
