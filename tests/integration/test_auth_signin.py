"""Sign-in: response shape, password edge cases, enumeration resistance and rehashing."""

from __future__ import annotations

import statistics
import time
import unicodedata

import psycopg
import pytest

from tests.support.auth import apply_env, signin, signup, unique_email
from tests.support.log_capture import remember

pytestmark = pytest.mark.anyio


async def test_signin_returns_a_working_session(auth_client):
    account = await signup(auth_client)
    response = await signin(auth_client, account.email.upper(), account.password)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"token", "token_type", "expires_at", "id", "email", "name", "role"}
    assert (body["id"], body["role"], body["token_type"]) == (account.id, "admin", "Bearer")
    # JWT_EXPIRES_IN defaults to 24 hours.
    assert abs(body["expires_at"] - time.time() - 24 * 3600) < 60
    me = await auth_client.get(
        "/api/v1/auths/", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert me.json()["id"] == account.id


async def test_unknown_email_and_wrong_password_get_the_same_answer(auth_client):
    account = await signup(auth_client)
    wrong = await signin(auth_client, account.email, "not-the-password")
    unknown = await signin(auth_client, unique_email("nobody"), "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "The email or password is incorrect."}
    assert set(wrong.headers) - {"x-request-id", "date"} == set(unknown.headers) - {
        "x-request-id",
        "date",
    }


async def test_unknown_email_costs_a_hash_like_a_wrong_password(auth_client):
    # Production parameters, so the hash dominates; skipping it would be ~10x faster.
    apply_env(
        {
            "STRATUS_ARGON2_TIME_COST": "3",
            "STRATUS_ARGON2_MEMORY_KIB": "65536",
            "STRATUS_ARGON2_PARALLELISM": "4",
        }
    )
    account = await signup(auth_client)

    async def timed(email: str) -> float:
        started = time.perf_counter()
        response = await signin(auth_client, email, "wrong-password-here")
        assert response.status_code == 401
        return time.perf_counter() - started

    await timed(unique_email())  # warm-up
    # Interleaved, so load from elsewhere on a shared machine hits both sides alike.
    pairs = [(await timed(account.email), await timed(unique_email())) for _ in range(5)]
    wrong = statistics.median(w for w, _ in pairs)
    unknown = statistics.median(u for _, u in pairs)
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)


@pytest.mark.parametrize("route", ["signup", "signin"])
async def test_empty_password_is_a_clear_422(auth_client, route):
    response = await auth_client.post(
        f"/api/v1/auths/{route}",
        json={"name": "E", "email": unique_email(), "password": ""}
        if route == "signup"
        else {"email": unique_email(), "password": ""},
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "The password must not be empty."}


@pytest.mark.parametrize(
    "password",
    [
        "x" * 1025,  # over the limit in characters
        "é" * 600,  # 600 characters, 1200 bytes: over the limit in bytes
        "y" * 1_000_000,
    ],
)
async def test_oversize_password_is_refused(auth_client, password):
    started = time.perf_counter()
    response = await auth_client.post(
        "/api/v1/auths/signup", json={"name": "Big", "email": unique_email(), "password": password}
    )
    assert response.status_code == 422
    assert "password" in response.json()["detail"]
    assert password[:50] not in response.text
    assert time.perf_counter() - started < 2


async def test_password_of_exactly_1_kib_is_accepted(auth_client):
    await signup(auth_client, password="é" * 512)  # 1024 bytes


async def test_unicode_passwords_are_kept_exactly_as_sent(auth_client):
    composed = remember(unicodedata.normalize("NFC", "pässwörd-密码-🔑-Ωmega"))
    account = await signup(auth_client, password=composed)
    assert (await signin(auth_client, account.email, composed)).status_code == 200
    # No normalisation: the decomposed spelling is a different password.
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert (await signin(auth_client, account.email, decomposed)).status_code == 401


async def test_login_rehashes_when_the_parameters_change(auth_client, auth_env):
    account = await signup(auth_client)

    def stored_hash() -> str:
        with psycopg.connect(auth_env["DATABASE_URL"]) as conn:
            cursor = conn.execute("SELECT password_hash FROM users WHERE id = %s", (account.id,))
            row = cursor.fetchone()
        assert row is not None
        return str(row[0])

    before = stored_hash()
    assert "$argon2id$" in before
    assert "m=1024,t=1,p=1" in before
    apply_env({"STRATUS_ARGON2_TIME_COST": "2", "STRATUS_ARGON2_MEMORY_KIB": "2048"})
    assert (await signin(auth_client, account.email, account.password)).status_code == 200
    after = stored_hash()
    assert "m=2048,t=2,p=1" in after
    # The new hash still verifies.
    assert (await signin(auth_client, account.email, account.password)).status_code == 200


async def test_unknown_fields_in_signin_are_rejected(auth_client):
    response = await auth_client.post(
        "/api/v1/auths/signin", json={"email": unique_email(), "password": "p", "role": "admin"}
    )
    assert response.status_code == 422
