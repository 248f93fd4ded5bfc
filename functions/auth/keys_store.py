"""API-key rows for the key-management routes. Only hashes and display prefixes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratus.db import connection


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    name: str
    display_prefix: str
    is_default: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewKey:
    id: str
    user_id: str
    name: str
    display_prefix: str
    key_hash: str
    expires_at: datetime | None
    is_default: bool = False


def _row(values: Any) -> KeyRow:
    return KeyRow(*values)


class KeysStore:
    async def create(self, key: NewKey, *, max_keys: int) -> KeyRow | None:
        """Insert the key; None when the user already holds ``max_keys``.

        The default key (Open WebUI's single key) replaces the previous default.
        """
        async with connection() as conn:
            # Lock the user's row so two concurrent creations cannot both pass the count.
            await conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (key.user_id,))
            if key.is_default:
                await conn.execute(
                    "DELETE FROM api_keys WHERE user_id = %s AND is_default", (key.user_id,)
                )
            count_row = await (
                await conn.execute(
                    "SELECT count(*) FROM api_keys WHERE user_id = %s", (key.user_id,)
                )
            ).fetchone()
            if count_row and int(count_row[0]) >= max_keys:
                return None
            cursor = await conn.execute(
                "INSERT INTO api_keys (id, user_id, name, display_prefix, key_hash, expires_at, "
                "is_default) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, name, "
                "display_prefix, is_default, created_at, expires_at, last_used_at",
                (
                    key.id,
                    key.user_id,
                    key.name,
                    key.display_prefix,
                    key.key_hash,
                    key.expires_at,
                    key.is_default,
                ),
            )
            return _row(await cursor.fetchone())

    async def list(self, user_id: str) -> list[KeyRow]:
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT id, name, display_prefix, is_default, created_at, expires_at, "
                "last_used_at FROM api_keys WHERE user_id = %s ORDER BY created_at, id",
                (user_id,),
            )
            return [_row(r) for r in await cursor.fetchall()]

    async def default(self, user_id: str) -> KeyRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT id, name, display_prefix, is_default, created_at, expires_at, "
                "last_used_at FROM api_keys WHERE user_id = %s AND is_default",
                (user_id,),
            )
            row = await cursor.fetchone()
        return _row(row) if row else None

    async def delete(self, user_id: str, key_id: str) -> bool:
        """Scoped to the owner: someone else's key id deletes nothing (and the route says 404)."""
        async with connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM api_keys WHERE id = %s AND user_id = %s", (key_id, user_id)
            )
            return cursor.rowcount == 1

    async def delete_all(self, user_id: str) -> int:
        """Every key of the user: a compromise response must not leave a working credential."""
        async with connection() as conn:
            cursor = await conn.execute("DELETE FROM api_keys WHERE user_id = %s", (user_id,))
            return cursor.rowcount

    async def delete_default(self, user_id: str) -> bool:
        async with connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM api_keys WHERE user_id = %s AND is_default", (user_id,)
            )
            return cursor.rowcount == 1
