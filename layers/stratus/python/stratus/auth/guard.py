"""The one access guard, installed app-wide by ``StratusPlugin`` for every function.

For each request it reads the route's declared policy (``stratus.web.access``), authenticates
unless the route is public, and authorizes against the live user row. Handlers receive the
result through the ``principal`` dependency; there is no other way to learn who is calling.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection, Request
from litestar.handlers.base import BaseRouteHandler

from stratus.auth.principal import Principal, Role, Via
from stratus.errors import AuthenticationError, PermissionDeniedError
from stratus.observability import get_logger
from stratus.observability.tracing import span
from stratus.settings import AuthSettings, auth_settings
from stratus.web.access import ACCESS_KEY, ALLOW_PENDING_KEY, SESSION_ONLY_KEY, Access

if TYPE_CHECKING:
    from stratus.auth.authenticator import Authenticator

PRINCIPAL_STATE_KEY = "stratus_principal"


@dataclass(frozen=True, slots=True)
class Policy:
    level: Access | None
    allow_pending: bool = False
    session_only: bool = False


def is_automatic_options(handler: BaseRouteHandler) -> bool:
    """Litestar adds an OPTIONS handler to every path; it answers only with an ``Allow`` header."""
    fn = getattr(handler, "fn", None)
    return getattr(fn, "__module__", "") == "litestar.routes.http" and getattr(
        fn, "__qualname__", ""
    ).endswith("create_options_handler.<locals>.options_handler")


def policy_for(handler: BaseRouteHandler) -> Policy:
    if is_automatic_options(handler):
        return Policy(Access.PUBLIC)
    return policy_of(handler.opt)


def policy_of(opt: Mapping[str, Any]) -> Policy:
    raw = opt.get(ACCESS_KEY)
    try:
        level = Access(raw) if raw is not None else None
    except ValueError:
        level = None
    return Policy(level, opt.get(ALLOW_PENDING_KEY) is True, opt.get(SESSION_ONLY_KEY) is True)


def authorize(principal: Principal, policy: Policy) -> None:
    if policy.level is None:
        raise PermissionDeniedError("This route has no access policy.")
    if principal.role is Role.PENDING and not policy.allow_pending:
        raise PermissionDeniedError("Your account is awaiting approval by an administrator.")
    if policy.session_only and principal.via is not Via.SESSION:
        raise PermissionDeniedError("This action needs a signed-in session, not an API key.")
    if policy.level is Access.ADMIN and not principal.is_admin:
        raise PermissionDeniedError("Administrator access is required.")


def get_authenticator() -> Authenticator:
    return _authenticator_for(auth_settings())


@functools.cache
def _authenticator_for(settings: AuthSettings) -> Authenticator:
    # Imported on first use so that building an app never loads PyJWT or the database driver.
    from stratus.auth.api_keys_store import ApiKeysStore
    from stratus.auth.authenticator import Authenticator
    from stratus.auth.secret import signing_key
    from stratus.auth.sessions_store import SessionsStore
    from stratus.auth.tokens import TokenCodec

    codec = TokenCodec(signing_key(settings), lifetime_seconds=settings.jwt_expires_in)
    return Authenticator(
        codec, SessionsStore(), ApiKeysStore(), api_keys_enabled=settings.enable_api_key
    )


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    policy = policy_for(handler)
    if policy.level is Access.PUBLIC:
        return
    if policy.level is None:
        get_logger().error("route without an access policy", extra={"route": handler.handler_name})
    headers = connection.headers
    with span("auth"):
        principal = await get_authenticator().authenticate(
            headers.getall("authorization", []), headers.getall("x-api-key", [])
        )
    authorize(principal, policy)
    connection.scope.setdefault("state", {})[PRINCIPAL_STATE_KEY] = principal


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The ``principal`` dependency. Asking for it on a public route is a programming error."""
    principal = request.scope.get("state", {}).get(PRINCIPAL_STATE_KEY)
    if not isinstance(principal, Principal):
        raise AuthenticationError("Not authenticated.")
    return principal
