"""Every route declares who may call it. The auth guard enforces it; a test walks the routes."""

from __future__ import annotations

from enum import StrEnum


class Access(StrEnum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"
    OWNER = "owner"


ACCESS_KEY = "access"


def access(level: Access) -> dict[str, Access]:
    """Route ``opt`` that declares the policy: ``@get("/x", opt=access(Access.USER))``."""
    return {ACCESS_KEY: level}
