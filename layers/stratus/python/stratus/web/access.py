"""Every route declares who may call it. The auth guard enforces it; a test walks the routes.

A route without a declared level is refused to everyone (after authentication), so forgetting
the policy fails closed rather than open.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Access(StrEnum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"
    # Any active user; the service must scope the resource to ``principal.user_id`` and answer
    # 404 (never 403) for someone else's.
    OWNER = "owner"


ACCESS_KEY = "access"
# A pending account may call this route (only "who am I" and sign-out).
ALLOW_PENDING_KEY = "access_allow_pending"
# Refused to API keys: a leaked key must not change the password or mint more keys.
SESSION_ONLY_KEY = "access_session_only"


def access(
    level: Access, *, allow_pending: bool = False, session_only: bool = False
) -> dict[str, Any]:
    """Route ``opt`` that declares the policy: ``@get("/x", opt=access(Access.USER))``."""
    return {ACCESS_KEY: level, ALLOW_PENDING_KEY: allow_pending, SESSION_ONLY_KEY: session_only}
