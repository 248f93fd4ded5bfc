"""Password rules and hashing, without the HTTP layer."""

from __future__ import annotations

import pytest

from stratus.auth.passwords import Argon2Parameters, Passwords, check_acceptable
from stratus.errors import ValidationError

FAST = Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("password", ["", "x" * 1025, "€" * 342])
async def test_unacceptable_passwords_are_refused_before_hashing(password):
    passwords = Passwords(FAST)
    with pytest.raises(ValidationError) as raised:
        await passwords.hash(password)
    assert raised.value.param == "password"
    assert password[:20] not in raised.value.message or not password


def test_the_limit_is_1024_bytes_of_utf8():
    check_acceptable("€" * 341)  # 1023 bytes
    check_acceptable("a" * 1024)
    with pytest.raises(ValidationError, match="1024 bytes"):
        check_acceptable("€" * 342)  # 1026 bytes


async def test_hash_is_argon2id_and_verifies_exactly():
    passwords = Passwords(FAST)
    stored = await passwords.hash("Ünïcödé-🔑")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify(stored, "Ünïcödé-🔑")
    assert not await passwords.verify(stored, "Ünïcödé-🔑 ")
    assert not await passwords.verify(stored, "unicode-🔑")


async def test_unknown_account_verifies_against_a_dummy_and_always_fails():
    passwords = Passwords(FAST)
    # Even the dummy's own password does not let a missing account in.
    assert not await passwords.verify(None, "stratus-dummy-password")
    assert (await passwords.dummy_hash()).startswith("$argon2id$v=19$m=1024,t=1,p=1$")


async def test_needs_rehash_follows_the_parameters():
    old = await Passwords(FAST).hash("pw")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_kib=1024, parallelism=1))
    assert stronger.needs_rehash(old)
    assert not Passwords(FAST).needs_rehash(old)
    assert stronger.needs_rehash("not-a-hash")


async def test_a_corrupt_stored_hash_fails_closed():
    assert not await Passwords(FAST).verify("$argon2id$garbage", "pw")
