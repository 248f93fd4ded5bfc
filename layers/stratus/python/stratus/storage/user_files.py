"""The stored objects of a user's files, for the one path that deletes a user.

``collect`` runs in the deletion's transaction (the rows still exist); ``purge`` after it
commits. See ``stratus.auth.deletion``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.storage.objects import get_object_store

if TYPE_CHECKING:
    from psycopg import AsyncConnection


async def collect_file_keys(conn: AsyncConnection, user_id: str) -> list[str]:
    cursor = await conn.execute("SELECT storage_key FROM files WHERE user_id = %s", (user_id,))
    return [str(row[0]) for row in await cursor.fetchall()]


async def purge_objects(keys: list[str]) -> None:
    store = get_object_store()
    for key in keys:
        await store.delete(key)
