"""Account rows in Postgres. Every query binds its parameters; emails are stored lower-cased."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratus.auth import Role
from stratus.auth.last_admin import keep_an_admin
from stratus.db import connection
from stratus.errors import ConflictError, PermissionDeniedError


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    email: str
    name: str
    role: Role
    password_hash: str
    token_version: int
    created_at: datetime
    updated_at: datetime


def _row(values: Any) -> UserRow:
    id_, email, name, role, password_hash, token_version, created_at, updated_at = values
    return UserRow(
        id_, email, name, Role(role), password_hash, token_version, created_at, updated_at
    )


@contextmanager
def _email_must_be_free() -> Iterator[None]:
    """The unique index on ``email`` decides races between two sign-ups with one address."""
    try:
        yield
    except Exception as exc:
        # Matched by SQLSTATE so this module does not import the driver at import time.
        if getattr(exc, "sqlstate", None) == "23505":
            raise ConflictError(
                "An account with this email already exists.", param="email"
            ) from None
        raise


@dataclass(frozen=True, slots=True)
class ListedUser:
    row: UserRow
    # The latest sign-in, API key use or chat turn; None if there was none.
    last_active_at: datetime | None


# Last activity from what is recorded anyway (no write per request): sessions are created at
# sign-in, a key's last use is kept (to the minute), and a chat's updated_at moves with each
# turn. Each is an indexed lookup per listed user. greatest() skips NULLs.
_PAGE = """
SELECT u.id, u.email, u.name, u.role, u.password_hash, u.token_version, u.created_at,
       u.updated_at,
       greatest(
           (SELECT max(s.created_at) FROM sessions s WHERE s.user_id = u.id),
           (SELECT max(k.last_used_at) FROM api_keys k WHERE k.user_id = u.id),
           (SELECT max(c.updated_at) FROM chats c WHERE c.user_id = u.id)
       )
FROM users u ORDER BY u.created_at, u.id LIMIT %s OFFSET %s
"""


@dataclass(frozen=True, slots=True)
class NewUser:
    id: str
    email: str
    name: str
    password_hash: str


class UsersStore:
    async def create(
        self, user: NewUser, *, role: Role, first_may_claim_admin: bool, signup_open: bool = True
    ) -> UserRow:
        """Insert the account. With ``first_may_claim_admin``, the first account ever is admin.

        The claim row and the user row commit together: concurrent first sign-ups queue on the
        claim's primary key, and only the transaction that inserts it gets the admin role. If
        that transaction fails (say, a duplicate email), the claim is released with it.
        """
        with _email_must_be_free():
            async with connection() as conn:
                if first_may_claim_admin:
                    cursor = await conn.execute(
                        "INSERT INTO first_admin_claim (singleton) VALUES (true) "
                        "ON CONFLICT DO NOTHING RETURNING singleton"
                    )
                    if await cursor.fetchone() is not None:
                        role = Role.ADMIN
                    elif not signup_open:
                        raise PermissionDeniedError("Sign-up is disabled on this server.")
                cursor = await conn.execute(
                    "INSERT INTO users (id, email, name, role, password_hash) "
                    "VALUES (%s, %s, %s, %s, %s) RETURNING id, email, name, role, password_hash, "
                    "token_version, created_at, updated_at",
                    (user.id, user.email, user.name, role.value, user.password_hash),
                )
                return _row(await cursor.fetchone())

    async def admin_claimed(self) -> bool:
        async with connection() as conn:
            cursor = await conn.execute("SELECT 1 FROM first_admin_claim")
            return await cursor.fetchone() is not None

    async def by_email(self, email: str) -> UserRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT id, email, name, role, password_hash, token_version, created_at, "
                "updated_at FROM users WHERE email = %s",
                (email,),
            )
            row = await cursor.fetchone()
        return _row(row) if row else None

    async def by_id(self, user_id: str) -> UserRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT id, email, name, role, password_hash, token_version, created_at, "
                "updated_at FROM users WHERE id = %s",
                (user_id,),
            )
            row = await cursor.fetchone()
        return _row(row) if row else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with connection() as conn:
            await conn.execute(
                "UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
                (password_hash, user_id),
            )

    async def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        role: Role | None = None,
        password_hash: str | None = None,
    ) -> UserRow | None:
        """Change the given fields; None leaves a field as it is. A new password hash also ends
        every session, by bumping the token version. A role other than admin is refused (409)
        for the last admin."""
        with _email_must_be_free():
            async with connection() as conn:
                if role is not None and role != Role.ADMIN:
                    await keep_an_admin(conn, user_id)
                cursor = await conn.execute(
                    "UPDATE users SET name = coalesce(%s, name), email = coalesce(%s, email), "
                    "role = coalesce(%s, role), password_hash = coalesce(%s, password_hash), "
                    "token_version = token_version + (%s::text IS NOT NULL)::int, "
                    "updated_at = now() WHERE id = %s RETURNING id, email, name, role, "
                    "password_hash, token_version, created_at, updated_at",
                    (
                        name,
                        email,
                        role.value if role else None,
                        password_hash,
                        password_hash,
                        user_id,
                    ),
                )
                row = await cursor.fetchone()
        return _row(row) if row else None

    async def page(self, *, offset: int, limit: int) -> tuple[list[ListedUser], int]:
        async with connection() as conn:
            cursor = await conn.execute(_PAGE, (limit, offset))
            rows = [ListedUser(_row(r[:8]), r[8]) for r in await cursor.fetchall()]
            total_row = await (await conn.execute("SELECT count(*) FROM users")).fetchone()
        return rows, int(total_row[0]) if total_row else 0
