"""Sign-in's order of work on real Postgres and moto: reservation, then lookup, then hash.

The service is the real one with its real stores and limiter; only its ``Passwords`` is a
subclass that does real argon2 work and also records what DynamoDB held while it ran. The order
shows in effects: what the limiter table holds during the hash, and which dependency's error
wins when a step cannot run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from functions.auth.schemas import SigninForm
from functions.auth.service import AccountService
from stratus.auth.limiter import account_partition
from stratus.auth.passwords import Argon2Parameters
from stratus.db import close_pool
from stratus.ephemeral.table import ephemeral_model
from stratus.errors import AuthenticationError, RateLimitedError, ServiceUnavailableError
from stratus.settings import auth_settings
from tests.support.auth import apply_env, signup, unique_email
from tests.support.hash_counting import CountingPasswords, counted

pytestmark = pytest.mark.anyio

IP = "203.0.113.9"
DB_DOWN = "The database is busy or unavailable; try again shortly."
STORE_DOWN = "Shared state store is unavailable; try again shortly."


def account_failures(email: str) -> int:
    """The account's failures across all addresses, read straight from the DynamoDB item."""
    connection = ephemeral_model()._get_connection()
    items = connection.query(account_partition(email), consistent_read=True)["Items"]
    return sum(
        int(value["N"])
        for item in items
        if item["sk"]["S"] == "all"
        for name, value in item.items()
        if name.startswith("t") and name[1:].isdigit()
    )


class WatchingPasswords(CountingPasswords):
    """Notes the account's failure count in DynamoDB at the moment each hash starts."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        super().__init__(parameters)
        self.watched = ""
        self.seen: list[int] = []

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.seen.append(account_failures(self.watched))
        return await super().verify(stored_hash, password)


def account_service(passwords: CountingPasswords) -> AccountService:
    """The account service exactly as the auth function wires it, hashing with ``passwords``."""
    return counted(passwords).accounts()


@pytest.fixture
async def passwords(auth_env) -> AsyncIterator[WatchingPasswords]:
    yield WatchingPasswords(Argon2Parameters.from_settings(auth_settings()))
    # Tests below point the pool at a dead database; the next test must build a fresh one.
    await close_pool()


async def database_goes_down() -> None:
    await close_pool()
    apply_env(
        {"DATABASE_URL": "postgresql://stratus@127.0.0.1:9/none", "DATABASE_POOL_TIMEOUT": "0.5"}
    )


def form(email: str, password: str) -> SigninForm:
    return SigninForm(email=email, password=password)


async def test_the_failure_is_reserved_before_the_password_is_hashed(auth_client, passwords):
    account = await signup(auth_client)
    passwords.watched = account.email
    service = account_service(passwords)
    with pytest.raises(AuthenticationError):
        await service.signin(form(account.email, "wrong-password"), IP)
    with pytest.raises(AuthenticationError):
        await service.signin(form(account.email, "wrong-again"), IP)
    # While each hash ran, its own attempt was already counted.
    assert passwords.seen == [1, 2]
    await service.signin(form(account.email, account.password), IP)
    assert passwords.seen == [1, 2, 3]
    assert account_failures(account.email) == 2  # a success gives its reservation back


async def test_a_locked_account_is_refused_before_any_lookup_or_hash(auth_client, passwords):
    account = await signup(auth_client)
    passwords.watched = account.email
    service = account_service(passwords)
    for _ in range(10):
        with pytest.raises(AuthenticationError):
            await service.signin(form(account.email, "wrong-password"), IP)
    checks = passwords.checks
    # WHEN the database is gone, THEN the answer is still the limiter's: nothing looked it up
    await database_goes_down()
    with pytest.raises(RateLimitedError):
        await service.signin(form(account.email, account.password), IP)
    assert passwords.checks == checks


async def test_the_user_is_looked_up_before_any_hash(auth_env, passwords):
    email = unique_email()
    passwords.watched = email
    service = account_service(passwords)
    await database_goes_down()
    with pytest.raises(ServiceUnavailableError) as raised:
        await service.signin(form(email, "some-password"), IP)
    assert raised.value.message == DB_DOWN
    assert passwords.checks == 0
    assert account_failures(email) == 1  # the limiter had already reserved the attempt


async def test_an_unreachable_limiter_stops_signin_before_lookup_or_hash(auth_env, passwords):
    email = unique_email()
    service = account_service(passwords)
    # Both stores down: whichever is asked first names itself in the error.
    await database_goes_down()
    apply_env({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"})
    with pytest.raises(ServiceUnavailableError) as raised:
        await service.signin(form(email, "some-password"), IP)
    assert raised.value.message == STORE_DOWN
    assert passwords.checks == 0


async def test_an_unknown_email_costs_one_hash_and_one_failure(auth_env, passwords):
    email = unique_email("nobody")
    passwords.watched = email
    with pytest.raises(AuthenticationError):
        await account_service(passwords).signin(form(email, "whatever-password"), IP)
    assert passwords.seen == [1]
    assert account_failures(email) == 1
