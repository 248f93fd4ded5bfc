"""Builds the services from current settings, once per distinct settings value."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Request

from functions.auth.admin_service import AdminService
from functions.auth.keys_service import KeysService
from functions.auth.keys_store import KeysStore
from functions.auth.service import AccountService
from functions.auth.store import UsersStore
from stratus.auth.limiter import Limits, LoginLimiter
from stratus.auth.passwords import Argon2Parameters, passwords_for
from stratus.auth.secret import signing_key
from stratus.auth.sessions_store import SessionsStore
from stratus.auth.tokens import TokenCodec
from stratus.ephemeral.tallies import TallyStore
from stratus.lifecycle import Resource
from stratus.limits import SlidingWindow
from stratus.settings import AuthSettings, auth_settings
from stratus.web.client_ip import request_client_ip


@functools.cache
def _accounts(settings: AuthSettings) -> AccountService:
    return AccountService(
        users=UsersStore(),
        sessions=SessionsStore(),
        passwords=passwords_for(Argon2Parameters.from_settings(settings)),
        tokens=TokenCodec(signing_key(settings), lifetime_seconds=settings.jwt_expires_in),
        limiter=_limiter(settings),
        settings=settings,
        keys=KeysStore(),
    )


@functools.cache
def _limiter(settings: AuthSettings) -> LoginLimiter:
    return LoginLimiter(SlidingWindow(TallyStore()), Limits.from_settings(settings))


def provide_accounts() -> AccountService:
    return _accounts(auth_settings())


def provide_admin() -> AdminService:
    settings = auth_settings()
    return AdminService(
        users=UsersStore(),
        sessions=SessionsStore(),
        passwords=passwords_for(Argon2Parameters.from_settings(settings)),
        limiter=_limiter(settings),
        keys=KeysStore(),
        keep_keys_on_password_change=settings.keep_api_keys_on_password_change,
    )


def provide_keys() -> KeysService:
    return KeysService(KeysStore(), enabled=auth_settings().enable_api_key)


def provide_client_ip(request: Request[Any, Any, Any]) -> str:
    """The forwarded address only from a trusted proxy; API Gateway's own in Lambda."""
    return request_client_ip(request.scope)


async def prepare_services() -> None:
    """The account and admin services at init: argon2's hasher and its dummy, the token codec."""
    provide_accounts()
    provide_admin()


async def renew_services() -> None:
    """After a SnapStart restore: a dummy hash of this environment's own (random salt)."""
    provide_accounts().passwords.renew_dummy()


SERVICES = Resource("auth-services", prepare_services, renew_services)
