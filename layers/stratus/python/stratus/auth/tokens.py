"""Session tokens: HS256 JWTs carrying ``sub``, ``exp``, ``iat``, ``jti`` and ``ver``.

Decoding pins the algorithm and the header: only ``alg`` and ``typ`` may appear, so ``kid``,
``jku``, ``jwk``, ``x5u`` and friends are refused before anything could follow them. PyJWT never
fetches keys by itself; refusing the headers keeps it that way if someone adds a key resolver.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
_ALLOWED_HEADERS = frozenset({"alg", "typ"})
_REQUIRED = ["sub", "exp", "iat", "jti", "ver"]
# A JWT longer than this is not one of ours; refuse before parsing.
MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    session_id: str
    token_version: int
    issued_at: int
    expires_at: int


class InvalidTokenError(Exception):
    """Any reason a token is not acceptable. Callers answer 401 without saying which."""


class TokenCodec:
    def __init__(
        self, key: str, *, lifetime_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._lifetime = lifetime_seconds
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def issue(self, user_id: str, token_version: int) -> tuple[str, Claims]:
        now = self._now()
        claims = Claims(user_id, uuid.uuid4().hex, token_version, now, now + self._lifetime)
        payload = {
            "sub": claims.user_id,
            "jti": claims.session_id,
            "ver": claims.token_version,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM), claims

    def verify(self, token: str) -> Claims:
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidTokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
            if set(header) - _ALLOWED_HEADERS or header.get("alg") != ALGORITHM:
                raise InvalidTokenError("header")
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": _REQUIRED, "verify_iat": False},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(type(exc).__name__) from None
        return _claims(payload)


def _text(payload: dict[str, object], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidTokenError("claims")
    return value


def _integer(payload: dict[str, object], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidTokenError("claims")
    return value


def _claims(payload: dict[str, object]) -> Claims:
    return Claims(
        user_id=_text(payload, "sub"),
        session_id=_text(payload, "jti"),
        token_version=_integer(payload, "ver"),
        issued_at=_integer(payload, "iat"),
        expires_at=_integer(payload, "exp"),
    )
