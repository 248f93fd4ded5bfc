"""From request headers to a live ``Principal``, or ``AuthenticationError`` (401).

Credentials come from ``Authorization: Bearer <jwt | sk-key>`` or ``x-api-key: sk-key``; both
paths meet the same checks. Malformed input is refused before any SQL runs, and lookups use
bound parameters only (the key is hashed first, so its text never reaches a query at all).
"""

from __future__ import annotations

from collections.abc import Sequence

from stratus.auth import api_keys
from stratus.auth.api_keys_store import ApiKeysStore
from stratus.auth.principal import Principal
from stratus.auth.sessions_store import SessionsStore
from stratus.auth.tokens import InvalidTokenError, TokenCodec
from stratus.errors import AuthenticationError

_MAX_CREDENTIAL = 4096
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthenticated(message: str = "Invalid or expired credentials.") -> AuthenticationError:
    return AuthenticationError(message, headers=_CHALLENGE)


def extract_credential(authorization: Sequence[str], api_key: Sequence[str]) -> str:
    """The single credential a request carries. Several, or a conflicting pair, is an error."""
    if len(authorization) > 1 or len(api_key) > 1:
        raise _unauthenticated()
    found: list[str] = []
    if authorization:
        scheme, _, value = authorization[0].strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip() or " " in value.strip():
            raise _unauthenticated()
        found.append(value.strip())
    if api_key:
        found.append(api_key[0].strip())
        if not api_keys.looks_like_key(found[-1]):
            raise _unauthenticated()
    if not found:
        raise _unauthenticated("Not authenticated.")
    if len(set(found)) > 1 or len(found[0]) > _MAX_CREDENTIAL:
        raise _unauthenticated()
    return found[0]


class Authenticator:
    def __init__(
        self,
        codec: TokenCodec,
        sessions: SessionsStore,
        keys: ApiKeysStore,
        *,
        api_keys_enabled: bool,
    ) -> None:
        self._codec = codec
        self._sessions = sessions
        self._keys = keys
        self._api_keys_enabled = api_keys_enabled

    async def authenticate(self, authorization: Sequence[str], api_key: Sequence[str]) -> Principal:
        credential = extract_credential(authorization, api_key)
        if api_keys.looks_like_key(credential):
            principal = await self._by_key(credential)
        else:
            principal = await self._by_token(credential)
        if principal is None:
            raise _unauthenticated()
        return principal

    async def _by_key(self, key: str) -> Principal | None:
        if not self._api_keys_enabled:
            raise _unauthenticated("API keys are disabled on this server.")
        if not api_keys.is_well_formed(key):
            return None
        return await self._keys.resolve(api_keys.digest(key))

    async def _by_token(self, token: str) -> Principal | None:
        try:
            claims = self._codec.verify(token)
        except InvalidTokenError:
            return None
        return await self._sessions.resolve(claims)
