"""Password rules and argon2id hashing.

Passwords are checked for size before any hashing, so a megabyte password costs nothing. Unicode
is hashed exactly as sent (no normalisation): what the user typed is what must match.
"""

from __future__ import annotations

import base64
import functools
import os
import threading
from dataclasses import dataclass

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from stratus.errors import ValidationError
from stratus.settings import AuthSettings

MAX_PASSWORD_BYTES = 1024
# Each hash holds its full memory cost (64 MiB by default) while it runs; a burst of sign-ins
# queues here instead of multiplying that by the worker-thread count.
_HASH_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))


def check_acceptable(password: str, field: str = "password") -> None:
    if not password:
        raise ValidationError("The password must not be empty.", param=field)
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        raise ValidationError(
            f"The password must be at most {MAX_PASSWORD_BYTES} bytes.", param=field
        )


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    time_cost: int
    memory_kib: int
    parallelism: int

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Argon2Parameters:
        return cls(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )

    def describe(self) -> str:
        return f"argon2id m={self.memory_kib} KiB, t={self.time_cost}, p={self.parallelism}"


# argon2-cffi's defaults, which every stored hash was made with: the dummy must match them.
_SALT_BYTES, _HASH_BYTES = 16, 32


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def dummy_hash_for(parameters: Argon2Parameters) -> str:
    """A well-formed argon2id hash with these parameters and a random salt and digest.

    Verifying a password against it costs exactly what verifying against a real hash with the
    same parameters costs (argon2 derives the candidate, then compares), and no password can
    match the random digest. So it is made without hashing anything: unknown emails cost the
    same as known ones from the very first sign-in, and building it costs nothing at init.
    """
    return (
        f"$argon2id$v=19$m={parameters.memory_kib},t={parameters.time_cost},"
        f"p={parameters.parallelism}${_b64(os.urandom(_SALT_BYTES))}${_b64(os.urandom(_HASH_BYTES))}"
    )


class Passwords:
    """argon2id hashing, off the event loop (a hash takes tens of milliseconds of CPU)."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=_HASH_BYTES,
            salt_len=_SALT_BYTES,
            type=Type.ID,
        )
        self._dummy = dummy_hash_for(parameters)

    async def hash(self, password: str) -> str:
        check_acceptable(password)
        return await anyio.to_thread.run_sync(self._hash_sync, password)

    def _hash_sync(self, password: str) -> str:
        with _HASH_SLOTS:
            return self._hasher.hash(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists: unknown emails verify a dummy."""
        target = stored_hash or self._dummy
        ok = await anyio.to_thread.run_sync(self._verify_sync, target, password)
        return ok and stored_hash is not None

    def _verify_sync(self, stored_hash: str, password: str) -> bool:
        try:
            with _HASH_SLOTS:
                return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    @property
    def dummy_hash(self) -> str:
        return self._dummy

    def renew_dummy(self) -> None:
        """A new random salt and digest: environments restored from one SnapStart snapshot
        would otherwise share one."""
        self._dummy = dummy_hash_for(self.parameters)


@functools.cache
def passwords_for(parameters: Argon2Parameters) -> Passwords:
    return Passwords(parameters)
