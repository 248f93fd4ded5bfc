"""Sign-in's order of work, with fakes for its ports: the limiter is asked before any hash."""

from __future__ import annotations

from typing import Any, cast

import pytest

from functions.auth.schemas import SigninForm
from functions.auth.service import AccountService
from stratus.auth.tokens import TokenCodec
from stratus.errors import AuthenticationError, RateLimitedError, ServiceUnavailableError
from stratus.settings import AuthSettings

pytestmark = pytest.mark.anyio


class FakeLimiter:
    def __init__(self, mode: str = "open") -> None:
        self.mode = mode
        self.calls: list[str] = []

    async def check_signin(self, email: str, ip: str) -> None:
        self.calls.append("check")
        if self.mode == "locked":
            raise RateLimitedError("locked", retry_after=60)
        if self.mode == "down":
            raise ServiceUnavailableError("store down")

    async def record_failure(self, email: str, ip: str) -> None:
        self.calls.append("failure")

    async def record_success(self, email: str, ip: str) -> None:
        self.calls.append("success")


class FakePasswords:
    def __init__(self) -> None:
        self.verified: list[str | None] = []

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verified.append(stored_hash)
        return False


class FakeUsers:
    def __init__(self) -> None:
        self.lookups = 0

    async def by_email(self, email: str) -> None:
        self.lookups += 1


def _service(limiter: FakeLimiter, passwords: FakePasswords, users: FakeUsers) -> AccountService:
    return AccountService(
        users=cast(Any, users),
        sessions=cast(Any, None),
        passwords=cast(Any, passwords),
        tokens=TokenCodec("k" * 40, lifetime_seconds=60),
        limiter=cast(Any, limiter),
        settings=AuthSettings.from_env({}),
    )


@pytest.mark.parametrize(
    ("mode", "error"), [("locked", RateLimitedError), ("down", ServiceUnavailableError)]
)
async def test_a_locked_or_unavailable_limiter_stops_signin_before_lookup_or_hash(mode, error):
    limiter, passwords, users = FakeLimiter(mode), FakePasswords(), FakeUsers()
    with pytest.raises(error):
        await _service(limiter, passwords, users).signin(
            SigninForm(email="a@b.c", password="right-password"), "203.0.113.9"
        )
    assert limiter.calls == ["check"]
    assert users.lookups == 0
    assert passwords.verified == []


async def test_an_unknown_email_is_still_hashed_and_counted_as_a_failure():
    limiter, passwords, users = FakeLimiter(), FakePasswords(), FakeUsers()
    with pytest.raises(AuthenticationError):
        await _service(limiter, passwords, users).signin(
            SigninForm(email="nobody@b.c", password="whatever"), "203.0.113.9"
        )
    assert passwords.verified == [None]  # verify(None, ...) hashes against the dummy
    assert limiter.calls == ["check", "failure"]
