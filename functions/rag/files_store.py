"""File rows: the record of each upload and its processing state. Chunks live in ``chunks``.

Every read or change is scoped to the caller (``user_id``) unless the caller is an admin, inside
the SQL, so another user's file is simply not found.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stratus.db import connection

if TYPE_CHECKING:
    from psycopg import sql

_COLUMNS = (
    "id, user_id, filename, storage_key, kind, content_type, size, sha256, status, error, "
    "attempts, chunk_count, embedding_model, created_at, updated_at"
)
_ACCESS = "(user_id = %(uid)s OR %(admin)s)"


@dataclass(frozen=True, slots=True)
class FileRow:
    id: str
    user_id: str
    filename: str
    storage_key: str
    kind: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    status: str
    error: str | None
    attempts: int
    chunk_count: int
    embedding_model: str | None
    created_at: datetime
    updated_at: datetime


def _row(values: Any) -> FileRow:
    return FileRow(*values)


@functools.cache
def _sql(template: str) -> sql.Composed:
    """``template`` with ``{columns}`` and ``{access}`` filled in; psycopg loads on first use."""
    from psycopg import sql

    return sql.SQL(template).format(columns=sql.SQL(_COLUMNS), access=sql.SQL(_ACCESS))


@dataclass(frozen=True, slots=True)
class NewFile:
    id: str
    user_id: str
    filename: str
    storage_key: str
    kind: str | None = None
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None


class FilesStore:
    async def create(self, new: NewFile) -> FileRow:
        async with connection() as conn:
            cursor = await conn.execute(
                _sql(
                    "INSERT INTO files (id, user_id, filename, storage_key, kind, content_type, "
                    "size, sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {columns}"
                ),
                (
                    new.id,
                    new.user_id,
                    new.filename,
                    new.storage_key,
                    new.kind,
                    new.content_type,
                    new.size,
                    new.sha256,
                ),
            )
            return _row(await cursor.fetchone())

    async def get(self, file_id: str, user_id: str, is_admin: bool) -> FileRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                _sql("SELECT {columns} FROM files WHERE id = %(id)s AND {access}"),
                {"id": file_id, "uid": user_id, "admin": is_admin},
            )
            found = await cursor.fetchone()
        return _row(found) if found else None

    async def list_for(self, user_id: str, *, limit: int, offset: int) -> list[FileRow]:
        async with connection() as conn:
            cursor = await conn.execute(
                _sql(
                    "SELECT {columns} FROM files WHERE user_id = %s "
                    "ORDER BY created_at DESC, id LIMIT %s OFFSET %s"
                ),
                (user_id, limit, offset),
            )
            return [_row(r) for r in await cursor.fetchall()]

    async def delete(self, file_id: str, user_id: str, is_admin: bool) -> str | None:
        """Delete the row (its chunks and collection links go with it); its storage key."""
        async with connection() as conn:
            cursor = await conn.execute(
                _sql("DELETE FROM files WHERE id = %(id)s AND {access} RETURNING storage_key"),
                {"id": file_id, "uid": user_id, "admin": is_admin},
            )
            found = await cursor.fetchone()
        return str(found[0]) if found else None

    async def forget(self, file_id: str) -> None:
        """Remove a row whose object never got stored (the upload failed half-way)."""
        async with connection() as conn:
            await conn.execute("DELETE FROM files WHERE id = %s", (file_id,))

    async def by_storage_key(self, key: str) -> FileRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                _sql("SELECT {columns} FROM files WHERE storage_key = %s"), (key,)
            )
            found = await cursor.fetchone()
        return _row(found) if found else None

    async def reset_for_retry(
        self, file_id: str, user_id: str, is_admin: bool, *, stale_seconds: float
    ) -> FileRow | None:
        """A user asked to process the file again: back to pending with fresh attempts and no
        chunks, unless a worker holds a live claim on it (then it is left as it is)."""
        async with connection() as conn:
            cursor = await conn.execute(
                _sql(
                    "UPDATE files SET status = 'pending', attempts = 0, error = NULL, "
                    "claim_token = NULL, chunk_count = 0, updated_at = now() "
                    "WHERE id = %(id)s AND {access} AND (status IN ('failed', 'pending', 'ready') "
                    "OR claimed_at < now() - make_interval(secs => %(stale)s)) "
                    "RETURNING {columns}"
                ),
                {"id": file_id, "uid": user_id, "admin": is_admin, "stale": stale_seconds},
            )
            found = await cursor.fetchone()
            if found:
                # Searchable only when ready: the old chunks go in the same transaction.
                await conn.execute("DELETE FROM chunks WHERE file_id = %s", (file_id,))
        return _row(found) if found else None
