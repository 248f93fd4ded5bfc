"""Sessions in Postgres: the durable record behind every JWT, and the revocation state.

A token is honoured only while its row exists, is not revoked, has not expired and the user's
``token_version`` still matches, so every revocation is one UPDATE (or a cascade) away.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stratus.auth.principal import Principal, Role, Via
from stratus.auth.tokens import Claims
from stratus.db import autocommit, connection

_RESOLVE = """
SELECT u.id, u.email, u.name, u.role
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.jti = %s AND s.user_id = %s AND u.token_version = %s
  AND s.revoked_at IS NULL AND s.expires_at > now()
"""


class SessionsStore:
    async def create(self, claims: Claims) -> None:
        async with connection() as conn:
            # Old rows of this user go here, so the table needs no separate sweeper.
            await conn.execute(
                "DELETE FROM sessions WHERE user_id = %s AND expires_at < now() - interval '1 day'",
                (claims.user_id,),
            )
            await conn.execute(
                "INSERT INTO sessions (jti, user_id, expires_at) VALUES (%s, %s, %s)",
                (
                    claims.session_id,
                    claims.user_id,
                    datetime.fromtimestamp(claims.expires_at, UTC),
                ),
            )

    async def resolve(self, claims: Claims) -> Principal | None:
        # Every authenticated request runs this one read: in autocommit it is one round trip,
        # not three (BEGIN, SELECT, COMMIT).
        async with autocommit() as conn:
            cursor = await conn.execute(
                _RESOLVE, (claims.session_id, claims.user_id, claims.token_version)
            )
            row = await cursor.fetchone()
        if row is None:
            return None
        return Principal(row[0], row[1], row[2], Role(row[3]), Via.SESSION, claims.session_id)

    async def revoke(self, session_id: str) -> None:
        async with connection() as conn:
            await conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE jti = %s AND revoked_at IS NULL",
                (session_id,),
            )

    async def revoke_others(self, user_id: str, keep_session_id: str | None) -> int:
        """End every session of the user but one (the caller's own, after a password change)."""
        async with connection() as conn:
            cursor = await conn.execute(
                "UPDATE sessions SET revoked_at = now() "
                "WHERE user_id = %s AND jti IS DISTINCT FROM %s AND revoked_at IS NULL",
                (user_id, keep_session_id),
            )
            return cursor.rowcount

    async def revoke_all(self, user_id: str) -> bool:
        """End every session, including tokens whose rows are somehow missing: bump the version."""
        async with connection() as conn:
            cursor = await conn.execute(
                "UPDATE users SET token_version = token_version + 1, updated_at = now() "
                "WHERE id = %s",
                (user_id,),
            )
            await conn.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
            return cursor.rowcount == 1
