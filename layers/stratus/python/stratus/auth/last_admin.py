"""The server always keeps an administrator, even when two of them act at the same moment.

Demoting or deleting an admin first locks every admin row (``SELECT ... FOR UPDATE``, in id order
so two callers never deadlock) in the transaction that makes the change. A second admin doing the
same waits for the first to commit, then sees the admins that are left, so two admins removing
each other at once leave one of them. Row locks end with the transaction, so nothing pins an RDS
Proxy connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.auth.principal import Role
from stratus.errors import ConflictError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

LAST_ADMIN = (
    "This is the last administrator; make another account an administrator before demoting "
    "or deleting this one."
)


async def keep_an_admin(conn: AsyncConnection, user_id: str) -> None:
    """Refuse (409) when removing ``user_id`` from the admins would leave none."""
    cursor = await conn.execute(
        "SELECT id FROM users WHERE role = %s ORDER BY id FOR UPDATE", (Role.ADMIN.value,)
    )
    admins = [row[0] for row in await cursor.fetchall()]
    if admins == [user_id]:
        raise ConflictError(LAST_ADMIN, code="last_admin")
