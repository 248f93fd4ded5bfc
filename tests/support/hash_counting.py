"""A real auth app whose password checks are counted, for tests that prove how many ran.

The counting class is a ``Passwords`` subclass doing real argon2id work, handed to the real
``AccountService`` through its constructor; routes, guard, limiter and stores are the app's own.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from functions.auth import app as auth_app
from functions.auth import deps
from functions.auth.routes import AuthsController, UsersController
from stratus.auth.passwords import Argon2Parameters, Passwords
from stratus.settings import auth_settings
from stratus.web.plugin import StratusPlugin


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


def app_counting_checks(passwords: CountingPasswords) -> Litestar:
    """The auth function's app, except that its account service checks with ``passwords``."""
    accounts = dataclasses.replace(deps.provide_accounts(), passwords=passwords)

    def provide_accounts() -> Any:
        return accounts

    class CountedAuths(AuthsController):
        dependencies = {
            **(AuthsController.dependencies or {}),
            "accounts": Provide(provide_accounts, sync_to_thread=False),
        }

    return Litestar(
        route_handlers=[CountedAuths, UsersController],
        plugins=[StratusPlugin(service=auth_app.SERVICE, readiness=auth_app.READINESS)],
    )
