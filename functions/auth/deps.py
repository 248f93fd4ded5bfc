"""Builds the services from current settings, once per distinct settings value.

``AuthServices`` is the function's wiring: ``create_app`` hands its ``dependencies()`` to the
routes and its ``resource`` to the plugin. What varies is how password hashers are made
(``passwords``), so a test that counts hash checks passes its own factory to the same wiring.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import Provide

from functions.auth.admin_service import AdminService
from functions.auth.keys_service import KeysService
from functions.auth.keys_store import KeysStore
from functions.auth.service import AccountService
from functions.auth.store import UsersStore
from stratus.auth.limiter import Limits, LoginLimiter
from stratus.auth.passwords import Argon2Parameters, Passwords, passwords_for
from stratus.auth.secret import signing_key
from stratus.auth.sessions_store import SessionsStore
from stratus.auth.tokens import TokenCodec
from stratus.ephemeral.tallies import TallyStore
from stratus.lifecycle import Resource
from stratus.limits import SlidingWindow
from stratus.settings import AuthSettings, auth_settings
from stratus.web.client_ip import request_client_ip

PasswordsFactory = Callable[[Argon2Parameters], Passwords]


def provide_client_ip(request: Request[Any, Any, Any]) -> str:
    """The forwarded address only from a trusted proxy; API Gateway's own in Lambda."""
    return request_client_ip(request.scope)


class AuthServices:
    def __init__(self, passwords: PasswordsFactory = passwords_for) -> None:
        self._passwords = passwords
        # Per instance, keyed on the settings value: a settings change builds afresh.
        self._accounts = functools.cache(self._build_accounts)
        self._limiter = functools.cache(self._build_limiter)
        self.resource = Resource("auth-services", self._prepare, self._renew)

    def _build_accounts(self, settings: AuthSettings) -> AccountService:
        return AccountService(
            users=UsersStore(),
            sessions=SessionsStore(),
            passwords=self._passwords(Argon2Parameters.from_settings(settings)),
            tokens=TokenCodec(signing_key(settings), lifetime_seconds=settings.jwt_expires_in),
            limiter=self._limiter(settings),
            settings=settings,
            keys=KeysStore(),
        )

    @staticmethod
    def _build_limiter(settings: AuthSettings) -> LoginLimiter:
        return LoginLimiter(SlidingWindow(TallyStore()), Limits.from_settings(settings))

    def accounts(self) -> AccountService:
        return self._accounts(auth_settings())

    def admin(self) -> AdminService:
        settings = auth_settings()
        return AdminService(
            users=UsersStore(),
            sessions=SessionsStore(),
            passwords=self._passwords(Argon2Parameters.from_settings(settings)),
            limiter=self._limiter(settings),
            keys=KeysStore(),
            keep_keys_on_password_change=settings.keep_api_keys_on_password_change,
        )

    @staticmethod
    def keys() -> KeysService:
        return KeysService(KeysStore(), enabled=auth_settings().enable_api_key)

    def dependencies(self) -> dict[str, Provide]:
        """What the routes ask for by name."""
        return {
            "accounts": Provide(self.accounts, sync_to_thread=False),
            "keys": Provide(self.keys, sync_to_thread=False),
            "client_ip": Provide(provide_client_ip, sync_to_thread=False),
            "admin": Provide(self.admin, sync_to_thread=False),
        }

    async def _prepare(self) -> None:
        """The account and admin services at init: argon2's hasher and its dummy, the token
        codec."""
        self.accounts()
        self.admin()

    async def _renew(self) -> None:
        """After a SnapStart restore: a dummy hash of this environment's own (random salt)."""
        self.accounts().passwords.renew_dummy()


# The function's own wiring, which its handler and the local stack use.
SERVICES = AuthServices()
