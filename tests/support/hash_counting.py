"""The auth function's real wiring, with password checks that are counted.

The counting class is a ``Passwords`` subclass doing real argon2id work. It goes in through the
front door, as the factory ``AuthServices`` makes hashers with; ``create_app(counted(...))`` is
then the function's own app: routes, guard, limiter, stores and services all its own.
"""

from __future__ import annotations

import threading

from functions.auth.deps import AuthServices
from stratus.auth.passwords import Argon2Parameters, Passwords
from stratus.settings import auth_settings


class CountingPasswords(Passwords):
    def __init__(self, parameters: Argon2Parameters) -> None:
        super().__init__(parameters)
        self.checks = 0
        self._lock = threading.Lock()

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        with self._lock:
            self.checks += 1
        return await super().verify(stored_hash, password)


def counting_passwords() -> CountingPasswords:
    return CountingPasswords(Argon2Parameters.from_settings(auth_settings()))


def counted(passwords: CountingPasswords) -> AuthServices:
    """The auth function's services, every hasher among them ``passwords``."""
    return AuthServices(passwords=lambda _parameters: passwords)
