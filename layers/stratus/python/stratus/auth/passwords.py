"""Password rules and argon2id hashing.

Passwords are checked for size before any hashing, so a megabyte password costs nothing. Unicode
is hashed exactly as sent (no normalisation): what the user typed is what must match.
"""

from __future__ import annotations

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


class Passwords:
    """argon2id hashing, off the event loop (a hash takes tens of milliseconds of CPU)."""

    def __init__(self, parameters: Argon2Parameters) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )

    async def hash(self, password: str) -> str:
        check_acceptable(password)
        return await anyio.to_thread.run_sync(self._hash_sync, password)

    def _hash_sync(self, password: str) -> str:
        with _HASH_SLOTS:
            return self._hasher.hash(password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Constant work whether or not the account exists: unknown emails hash a dummy."""
        dummy = await self.dummy_hash()
        target = stored_hash or dummy
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

    async def dummy_hash(self) -> str:
        """Made once per parameter set; every verify awaits it so the first calls match too."""
        cached = _DUMMIES.get(self.parameters)
        if cached is None:
            cached = await anyio.to_thread.run_sync(self._hash_sync, "stratus-dummy-password")
            _DUMMIES[self.parameters] = cached
        return cached


_DUMMIES: dict[Argon2Parameters, str] = {}


@functools.cache
def passwords_for(parameters: Argon2Parameters) -> Passwords:
    return Passwords(parameters)
