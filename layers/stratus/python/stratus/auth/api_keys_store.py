"""API-key lookups the guard needs: by hash only, never by the raw key."""

from __future__ import annotations

from stratus.auth.principal import Principal, Role, Via
from stratus.db import autocommit

_RESOLVE = """
SELECT k.id, u.id, u.email, u.name, u.role,
       k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.key_hash = %s AND (k.expires_at IS NULL OR k.expires_at > now())
"""


class ApiKeysStore:
    async def resolve(self, key_hash: str) -> Principal | None:
        # Autocommit: the lookup is one round trip; the occasional last-use write stands alone.
        async with autocommit() as conn:
            cursor = await conn.execute(_RESOLVE, (key_hash,))
            row = await cursor.fetchone()
            if row is None:
                return None
            key_id, stale = row[0], row[5]
            # Last use is kept to the minute, so a busy key writes once a minute, not per call.
            if stale:
                await conn.execute(
                    "UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,)
                )
        return Principal(row[1], row[2], row[3], Role(row[4]), Via.API_KEY, key_id)
