"""Brute force against a real server: truly concurrent guesses, and forged client addresses.

Requests go over loopback sockets to uvicorn in another thread (``tests.support.live_server``),
so they overlap in the app as they would in production. Every client's peer is 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from functions.auth.app import create_app
from local.composed import create_local_app
from local.lambda_bridge import create_lambda_mode_app
from stratus.settings import reset_settings
from tests.support.auth import Account, apply_env, signin, signup, unique_email
from tests.support.hash_counting import counted, counting_passwords
from tests.support.live_server import live_server

pytestmark = pytest.mark.anyio

LIMIT = 10


@asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    with live_server(app) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            yield client


def forwarded(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_forty_concurrent_wrong_passwords_evaluate_at_most_the_limit(auth_env):
    passwords = counting_passwords()
    async with client_for(create_app(counted(passwords))) as client:
        account = await signup(client)
        before = passwords.checks
        responses = await asyncio.gather(
            *(signin(client, account.email, f"wrong-guess-{i}") for i in range(40))
        )
        checked = passwords.checks - before
        # The account is now locked from this address, even for its owner.
        locked = await signin(client, account.email, account.password)
    assert Counter(r.status_code for r in responses) == {401: LIMIT, 429: 40 - LIMIT}
    assert checked == LIMIT
    assert locked.status_code == 429
    assert passwords.checks - before == LIMIT  # refused before any hash


async def test_concurrent_wrong_current_passwords_on_password_change_are_limited(auth_env):
    passwords = counting_passwords()
    async with client_for(create_app(counted(passwords))) as client:
        account = await signup(client)
        before = passwords.checks

        async def change(i: int) -> httpx.Response:
            body = {"password": f"wrong-current-{i}", "new_password": "new-password-123"}
            return await client.post(
                "/api/v1/auths/update/password", json=body, headers=account.headers
            )

        responses = await asyncio.gather(*(change(i) for i in range(20)))
        checked = passwords.checks - before
        # Password change and sign-in share the account's counters.
        signin_after = await signin(client, account.email, account.password)
    assert Counter(r.status_code for r in responses) == {400: LIMIT, 429: 20 - LIMIT}
    assert checked == LIMIT
    assert signin_after.status_code == 429


async def lock_with_rotating_addresses(client: httpx.AsyncClient, account: Account) -> None:
    for i in range(LIMIT):
        wrong = await signin(client, account.email, "wrong", headers=forwarded(f"198.51.100.{i}"))
        assert wrong.status_code == 401


async def test_local_stack_rotating_forwarded_for_gives_no_fresh_guesses(auth_env):
    # Default settings: FORWARDED_ALLOW_IPS is unset, so no peer is a trusted proxy.
    os.environ.pop("FORWARDED_ALLOW_IPS", None)
    reset_settings()
    async with client_for(create_local_app()) as client:
        account = await signup(client)
        await lock_with_rotating_addresses(client, account)
        another_guess = await signin(client, account.email, "wrong", headers=forwarded("192.0.2.9"))
        spoofed = await signin(
            client, account.email, account.password, headers=forwarded("203.0.113.77")
        )
    assert another_guess.status_code == 429
    # A locked account does not sign in by naming another address.
    assert spoofed.status_code == 429


async def test_local_stack_behind_a_trusted_proxy_ignores_hops_that_are_not_addresses(auth_env):
    apply_env({"FORWARDED_ALLOW_IPS": "127.0.0.1"})
    async with client_for(create_local_app()) as client:
        account = await signup(client)
        for i in range(LIMIT):
            junk = forwarded(f"attacker-{i}")
            assert (await signin(client, account.email, "wrong", headers=junk)).status_code == 401
        locked = await signin(client, account.email, account.password, headers=forwarded("x"))
        # The proxy's word is still taken for real addresses.
        elsewhere = await signin(
            client, account.email, account.password, headers=forwarded("198.51.100.250")
        )
    assert locked.status_code == 429
    assert elsewhere.status_code == 200


@contextmanager
def lambda_mode() -> Iterator[Any]:
    bridge = create_lambda_mode_app()
    try:
        yield bridge
    finally:
        bridge.shutdown()


@pytest.mark.parametrize("trusted", [None, "127.0.0.1", "*"], ids=["unset", "loopback", "star"])
async def test_lambda_mode_takes_the_source_ip_from_the_peer_never_a_header(auth_env, trusted):
    # API Gateway sets sourceIp from the connection; no setting makes a client header count.
    if trusted is None:
        os.environ.pop("FORWARDED_ALLOW_IPS", None)
        reset_settings()
    else:
        apply_env({"FORWARDED_ALLOW_IPS": trusted})
    with lambda_mode() as bridge:
        async with client_for(bridge) as client:
            account = await signup(client)
            await lock_with_rotating_addresses(client, account)
            spoofed = await signin(
                client, account.email, account.password, headers=forwarded("203.0.113.78")
            )
            fresh = await signup(client, email=unique_email("other"))
            other_account = await signin(client, fresh.email, fresh.password)
    assert spoofed.status_code == 429
    assert spoofed.headers["content-type"].startswith("application/json")
    assert other_account.status_code == 200  # a lock on one account, not on the address
    assert bridge.environments["auth"].invocations >= LIMIT + 4
