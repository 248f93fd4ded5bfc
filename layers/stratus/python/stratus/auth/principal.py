"""Who is calling: the live user row behind a request's credentials."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"
    PENDING = "pending"


class Via(StrEnum):
    SESSION = "session"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    """Built fresh on every request from the database, so a role change applies at once."""

    user_id: str
    email: str
    name: str
    role: Role
    via: Via
    # The JWT's ``jti`` for a session; the key's id for an API key.
    credential_id: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
