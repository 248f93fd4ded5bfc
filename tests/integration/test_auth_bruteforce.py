"""Brute-force limits: per account and IP, per IP, sign-up floods, and failing closed."""

from __future__ import annotations

import pytest

from tests.support.auth import apply_env, signin, signup, unique_email

pytestmark = pytest.mark.anyio


def via(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


@pytest.fixture
def behind_proxy(auth_env):
    """The test client's peer ("testclient") is a trusted proxy, so X-Forwarded-For counts."""
    apply_env({"FORWARDED_ALLOW_IPS": "testclient"})


async def test_after_ten_failures_even_the_right_password_gets_429(auth_client, behind_proxy):
    account = await signup(auth_client)
    for _ in range(10):
        response = await signin(auth_client, account.email, "wrong", headers=via("198.51.100.1"))
        assert response.status_code == 401
    locked = await signin(auth_client, account.email, account.password, headers=via("198.51.100.1"))
    assert locked.status_code == 429
    retry_after = int(locked.headers["retry-after"])
    # The failures leave the window with their sub-window: at most a tenth of a window late.
    assert 1 <= retry_after <= 330
    assert locked.json() == {"detail": "Too many failed sign-in attempts; try again later."}
    # The same account from another address is not locked out.
    other = await signin(auth_client, account.email, account.password, headers=via("198.51.100.2"))
    assert other.status_code == 200


async def test_a_success_resets_the_accounts_counter(auth_client, behind_proxy):
    account = await signup(auth_client)
    for _ in range(9):
        await signin(auth_client, account.email, "wrong", headers=via("198.51.100.3"))
    ok = await signin(auth_client, account.email, account.password, headers=via("198.51.100.3"))
    assert ok.status_code == 200
    for _ in range(9):
        response = await signin(auth_client, account.email, "wrong", headers=via("198.51.100.3"))
        assert response.status_code == 401


async def test_forwarded_headers_are_ignored_from_untrusted_peers(auth_client):
    # FORWARDED_ALLOW_IPS is empty by default: no peer is trusted.
    account = await signup(auth_client)
    for i in range(10):
        await signin(auth_client, account.email, "wrong", headers=via(f"198.51.100.{i + 10}"))
    locked = await signin(
        auth_client, account.email, account.password, headers=via("198.51.100.99")
    )
    assert locked.status_code == 429


async def test_per_ip_limit_stops_credential_stuffing_across_accounts(auth_client, behind_proxy):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES_PER_IP": "5"})
    account = await signup(auth_client)
    for _ in range(5):
        response = await signin(auth_client, unique_email(), "guess", headers=via("192.0.2.50"))
        assert response.status_code == 401
    stuffed = await signin(auth_client, account.email, account.password, headers=via("192.0.2.50"))
    assert stuffed.status_code == 429
    elsewhere = await signin(
        auth_client, account.email, account.password, headers=via("192.0.2.51")
    )
    assert elsewhere.status_code == 200


async def test_limits_follow_the_settings(auth_client, behind_proxy):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES": "2", "STRATUS_LOGIN_WINDOW_SECONDS": "60"})
    account = await signup(auth_client)
    for _ in range(2):
        await signin(auth_client, account.email, "wrong", headers=via("192.0.2.60"))
    locked = await signin(auth_client, account.email, account.password, headers=via("192.0.2.60"))
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 66


async def test_signin_fails_closed_when_the_limiter_store_is_down(auth_client):
    account = await signup(auth_client)
    apply_env({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"})
    response = await signin(auth_client, account.email, account.password)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert "127.0.0.1:9" not in response.text
    # Requests that don't sign in keep working: only the limiter needs DynamoDB.
    assert (await auth_client.get("/api/v1/auths/", headers=account.headers)).status_code == 200


async def test_signup_floods_from_one_address_get_429(auth_client, behind_proxy):
    apply_env({"STRATUS_SIGNUP_MAX_PER_IP": "3"})
    for _ in range(3):
        response = await auth_client.post(
            "/api/v1/auths/signup",
            json={"name": "f", "email": unique_email(), "password": "flood-password"},
            headers=via("203.0.113.200"),
        )
        assert response.status_code == 200
    flood = await auth_client.post(
        "/api/v1/auths/signup",
        json={"name": "f", "email": unique_email(), "password": "flood-password"},
        headers=via("203.0.113.200"),
    )
    assert flood.status_code == 429
    assert "retry-after" in flood.headers
