"""Password rules and hashing, without the HTTP layer."""

from __future__ import annotations

import pytest
from argon2 import Type, extract_parameters
from argon2.exceptions import VerifyMismatchError
from argon2.low_level import verify_secret

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
    assert passwords.dummy_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")


class CountingHashes(Passwords):
    """Real argon2id, counting the hashes computed (verifications are not hashes)."""

    hashes = 0

    def _hash_sync(self, password: str) -> str:
        self.hashes += 1
        return super()._hash_sync(password)


async def test_an_unknown_account_costs_one_verification_from_the_very_first_sign_in():
    # The dummy used to be hashed lazily on the first verify: the first sign-in hashed twice.
    # Parameters of its own, so that no other test's passwords made anything for them first.
    passwords = CountingHashes(Argon2Parameters(time_cost=1, memory_kib=1032, parallelism=1))
    assert not await passwords.verify(None, "whatever-was-typed")
    assert passwords.hashes == 0


async def test_the_dummy_costs_what_a_real_hash_costs():
    passwords = Passwords(Argon2Parameters(time_cost=2, memory_kib=2048, parallelism=2))
    real = await passwords.hash("pw")
    dummy = passwords.dummy_hash
    # Same parameters, and salt and digest of the same lengths: argon2's work is the same.
    assert extract_parameters(dummy) == extract_parameters(real)
    assert [len(part) for part in dummy.split("$")] == [len(part) for part in real.split("$")]
    # Well-formed: argon2 derives the candidate and compares (a mismatch), rather than refusing
    # to decode it (which would answer fast and tell an attacker the email is unknown).
    with pytest.raises(VerifyMismatchError):
        verify_secret(dummy.encode(), b"pw", Type.ID)


def test_a_renewed_dummy_has_a_salt_of_its_own():
    passwords = Passwords(FAST)
    first = passwords.dummy_hash
    passwords.renew_dummy()
    assert passwords.dummy_hash != first
    assert extract_parameters(passwords.dummy_hash) == extract_parameters(first)


async def test_needs_rehash_follows_the_parameters():
    old = await Passwords(FAST).hash("pw")
    stronger = Passwords(Argon2Parameters(time_cost=2, memory_kib=1024, parallelism=1))
    assert stronger.needs_rehash(old)
    assert not Passwords(FAST).needs_rehash(old)
    assert stronger.needs_rehash("not-a-hash")


async def test_a_corrupt_stored_hash_fails_closed():
    assert not await Passwords(FAST).verify("$argon2id$garbage", "pw")
