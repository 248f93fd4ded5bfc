"""The single path that deletes a user and everything they own.

Rows: every table holding a user's data references ``users(id) ON DELETE CASCADE``, so deleting
the user row deletes them in the same transaction (keys, sessions, chats and their messages,
files, collections, chunks). A test fails if any foreign key to ``users`` lacks the cascade.

Data outside Postgres (stored objects): add an ``ExternalCleanup`` to ``EXTERNAL_CLEANUPS``. Its
``collect`` runs inside the transaction, before the cascade, and returns what to remove; its
``purge`` runs after the commit, so a failed delete never leaves rows pointing at missing objects.
This lives in the shared package because every function that deletes users must run it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.auth.last_admin import keep_an_admin
from stratus.db import connection
from stratus.observability import get_logger
from stratus.storage.user_files import collect_file_keys, purge_objects

if TYPE_CHECKING:
    from psycopg import AsyncConnection


@dataclass(frozen=True, slots=True)
class ExternalCleanup:
    name: str
    collect: Callable[[AsyncConnection, str], Awaitable[list[str]]]
    purge: Callable[[list[str]], Awaitable[None]]


EXTERNAL_CLEANUPS: tuple[ExternalCleanup, ...] = (
    ExternalCleanup("uploaded files", collect_file_keys, purge_objects),
)


async def delete_user(
    user_id: str, cleanups: Sequence[ExternalCleanup] = EXTERNAL_CLEANUPS
) -> bool:
    """Delete the user; return False if there was no such user. The last admin is refused (409)."""
    collected: list[tuple[ExternalCleanup, list[str]]] = []
    async with connection() as conn:
        await keep_an_admin(conn, user_id)
        for cleanup in cleanups:
            collected.append((cleanup, await cleanup.collect(conn, user_id)))
        cursor = await conn.execute("DELETE FROM users WHERE id = %s", (user_id,))
        deleted = cursor.rowcount == 1
    for cleanup, items in collected:
        if not (deleted and items):
            continue
        try:
            await cleanup.purge(items)
        except Exception:  # the rows are gone; orphans are logged for a later sweep, not retried
            get_logger().exception(
                "user data cleanup failed", extra={"cleanup": cleanup.name, "items": len(items)}
            )
    return deleted
