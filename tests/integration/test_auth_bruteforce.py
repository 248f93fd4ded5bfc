"""Brute-force limits: per account and IP, per account, per IP, sign-ups, unlock, failing closed.

Concurrent guesses and forged client addresses against a real server: test_auth_bruteforce_live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from botocore.stub import Stubber
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app
from stratus.auth.limiter import Limits, LoginLimiter
from stratus.ephemeral.table import ephemeral_model
from stratus.ephemeral.tallies import TallyStore
from stratus.errors import RateLimitedError
from stratus.limits import SlidingWindow
from tests.support.auth import admin_and_user, apply_env, signin, signup, unique_email
from tests.support.clock import FakeClock
from tests.support.hash_counting import counted, counting_passwords

pytestmark = pytest.mark.anyio


# A start on a whole 300 s window, so the fixed window the old limiter used ends at EPOCH + 300.
EPOCH = 1_800_000_000.0 - 1_800_000_000.0 % 300


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


async def test_one_account_from_many_addresses_is_locked_by_its_own_limit(
    auth_client, behind_proxy
):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT": "5"})
    account = await signup(auth_client)
    bystander = await signup(auth_client)
    for i in range(5):
        wrong = await signin(auth_client, account.email, "wrong", headers=via(f"192.0.2.{i}"))
        assert wrong.status_code == 401
    locked = await signin(auth_client, account.email, account.password, headers=via("192.0.2.99"))
    assert locked.status_code == 429
    # The limit is the account's: another account from the same fresh address is fine.
    ok = await signin(auth_client, bystander.email, bystander.password, headers=via("192.0.2.99"))
    assert ok.status_code == 200


async def test_ipv6_clients_are_counted_per_64(auth_client, behind_proxy):
    account = await signup(auth_client)
    for i in range(10):
        wrong = await signin(auth_client, account.email, "wrong", headers=via(f"2001:db8::{i}"))
        assert wrong.status_code == 401
    same_64 = await signin(
        auth_client, account.email, account.password, headers=via("2001:db8::ffff:1")
    )
    other_64 = await signin(
        auth_client, account.email, account.password, headers=via("2001:db8:0:1::1")
    )
    assert same_64.status_code == 429
    assert other_64.status_code == 200


async def test_an_admin_unlocks_an_account_from_every_address(auth_client, behind_proxy):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES": "3", "STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT": "5"})
    admin, user = await admin_and_user(auth_client)
    for ip in ("198.51.100.20",) * 3 + ("198.51.100.21",) * 2:
        assert (await signin(auth_client, user.email, "wrong", headers=via(ip))).status_code == 401
    for ip in ("198.51.100.20", "198.51.100.22"):  # locked per address, and across addresses
        assert (
            await signin(auth_client, user.email, user.password, headers=via(ip))
        ).status_code == 429

    refused = await auth_client.post(f"/api/v1/users/{user.id}/unlock", headers=user.headers)
    assert refused.status_code == 403
    unknown = await auth_client.post("/api/v1/users/nobody/unlock", headers=admin.headers)
    assert unknown.status_code == 404
    unlocked = await auth_client.post(f"/api/v1/users/{user.id}/unlock", headers=admin.headers)
    assert unlocked.status_code == 200
    assert unlocked.json() == {"status": True}

    for ip in ("198.51.100.20", "198.51.100.22"):
        assert (
            await signin(auth_client, user.email, user.password, headers=via(ip))
        ).status_code == 200


async def test_unlocking_an_account_leaves_per_address_limits_alone(auth_client, behind_proxy):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES_PER_IP": "3"})
    admin, user = await admin_and_user(auth_client)
    for _ in range(3):
        await signin(auth_client, unique_email(), "guess", headers=via("203.0.113.30"))
    await auth_client.post(f"/api/v1/users/{user.id}/unlock", headers=admin.headers)
    stuffed = await signin(auth_client, user.email, user.password, headers=via("203.0.113.30"))
    assert stuffed.status_code == 429


@pytest.fixture
def throttled_dynamodb() -> Iterator[Stubber]:
    """DynamoDB answers ProvisionedThroughputExceededException, through the client pynamodb uses."""
    client = ephemeral_model()._get_connection().connection.client
    stubber = Stubber(client)
    # One for each counter a sign-in reserves on, all at once.
    for _ in range(3):
        stubber.add_client_error(
            "update_item",
            service_error_code="ProvisionedThroughputExceededException",
            service_message="The level of configured provisioned throughput for the table was "
            "exceeded.",
            http_status_code=400,
        )
    yield stubber
    stubber.deactivate()


async def test_signin_fails_closed_when_dynamodb_throttles(auth_env, throttled_dynamodb):
    passwords = counting_passwords()
    async with AsyncTestClient(create_app(counted(passwords))) as client:
        account = await signup(client)
        with throttled_dynamodb:
            response = await signin(client, account.email, account.password)
            # The throttling errors themselves were delivered, not some other failure turned
            # into a 503. The 503 may leave while a sibling reservation's thread is still on
            # its way to the stub, so the stub stays active while we wait.
            await wait_for(throttled_dynamodb.assert_no_pending_responses)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"detail": "Shared state store is unavailable; try again shortly."}
    assert "Throughput" not in response.text
    assert passwords.checks == 0  # failing closed means no password was checked


async def wait_for(check: Callable[[], None], within: float = 2.0) -> None:
    """Poll ``check`` until it stops raising AssertionError, or re-raise after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.01)


async def test_twice_the_limit_across_a_window_boundary_is_refused(env):
    clock = FakeClock(EPOCH)
    limits = Limits(per_account_ip=10, per_account=50, per_ip=100, signups_per_ip=0, window=300)
    limiter = LoginLimiter(SlidingWindow(TallyStore(), clock=clock), limits)
    email, ip = unique_email(), "198.51.100.40"
    clock.now = EPOCH + 300 - 2.4
    for _ in range(10):
        await limiter.reserve(email, ip)  # a failure: the reservation is kept
    clock.now = EPOCH + 300 + 2.4  # 4.8 s later, in the next fixed window
    for _ in range(10):
        with pytest.raises(RateLimitedError):
            await limiter.reserve(email, ip)
    clock.now = EPOCH + 600 - 1  # a window after the first burst, give or take a sub-window
    with pytest.raises(RateLimitedError):
        await limiter.reserve(email, ip)
    clock.now = EPOCH + 600
    await limiter.reserve(email, ip)
