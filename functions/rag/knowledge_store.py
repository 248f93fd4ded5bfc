"""Knowledge collections and their file links. Access is in every statement's ``WHERE``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratus.db import connection


@dataclass(frozen=True, slots=True)
class KnowledgeRow:
    id: str
    user_id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LinkedFile:
    id: str
    filename: str
    content_type: str | None
    size: int | None
    status: str
    error: str | None
    created_at: datetime
    updated_at: datetime


def _knowledge(values: Any) -> KnowledgeRow:
    return KnowledgeRow(*values)


class KnowledgeStore:
    async def create(
        self, knowledge_id: str, user_id: str, name: str, description: str
    ) -> KnowledgeRow:
        async with connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO knowledge (id, user_id, name, description) VALUES (%s, %s, %s, %s) "
                "RETURNING id, user_id, name, description, created_at, updated_at",
                (knowledge_id, user_id, name, description),
            )
            return _knowledge(await cursor.fetchone())

    async def get(self, knowledge_id: str, user_id: str, is_admin: bool) -> KnowledgeRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT id, user_id, name, description, created_at, updated_at FROM knowledge "
                "WHERE id = %(id)s AND (user_id = %(uid)s OR %(admin)s)",
                {"id": knowledge_id, "uid": user_id, "admin": is_admin},
            )
            found = await cursor.fetchone()
        return _knowledge(found) if found else None

    async def page(
        self, user_id: str, *, limit: int, offset: int
    ) -> tuple[list[KnowledgeRow], int]:
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT id, user_id, name, description, created_at, updated_at, "
                "count(*) OVER () FROM knowledge WHERE user_id = %s "
                "ORDER BY updated_at DESC, id LIMIT %s OFFSET %s",
                (user_id, limit, offset),
            )
            rows = await cursor.fetchall()
            if rows:
                return [_knowledge(r[:6]) for r in rows], int(rows[0][6])
            total = await (
                await conn.execute("SELECT count(*) FROM knowledge WHERE user_id = %s", (user_id,))
            ).fetchone()
        return [], int(total[0]) if total else 0

    async def update(
        self, knowledge_id: str, user_id: str, is_admin: bool, name: str, description: str
    ) -> KnowledgeRow | None:
        async with connection() as conn:
            cursor = await conn.execute(
                "UPDATE knowledge SET name = %(name)s, description = %(description)s, "
                "updated_at = now() WHERE id = %(id)s AND (user_id = %(uid)s OR %(admin)s) "
                "RETURNING id, user_id, name, description, created_at, updated_at",
                {
                    "id": knowledge_id,
                    "uid": user_id,
                    "admin": is_admin,
                    "name": name,
                    "description": description,
                },
            )
            found = await cursor.fetchone()
        return _knowledge(found) if found else None

    async def delete(self, knowledge_id: str, user_id: str, is_admin: bool) -> bool:
        """Delete the collection; its links go with it (ON DELETE CASCADE), its files stay."""
        async with connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM knowledge WHERE id = %(id)s AND (user_id = %(uid)s OR %(admin)s)",
                {"id": knowledge_id, "uid": user_id, "admin": is_admin},
            )
            return cursor.rowcount == 1

    async def files(
        self, knowledge_id: str, *, limit: int, offset: int = 0, count: bool = True
    ) -> tuple[list[LinkedFile], int]:
        """One page of the collection's files in the order they were added, and how many it
        holds (-1 unless ``count``): a first page costs the same however large the collection
        (an index walk); counting is the one part that grows with it."""
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT f.id, f.filename, f.content_type, f.size, f.status, f.error, "
                "f.created_at, f.updated_at FROM knowledge_files kf "
                "JOIN files f ON f.id = kf.file_id WHERE kf.knowledge_id = %s "
                "ORDER BY kf.added_at, kf.file_id LIMIT %s OFFSET %s",
                (knowledge_id, limit, offset),
            )
            page = [LinkedFile(*row) for row in await cursor.fetchall()]
            if not offset and len(page) < limit:
                return page, len(page)
            if not count:
                return page, -1
            total = await (
                await conn.execute(
                    "SELECT count(*) FROM knowledge_files WHERE knowledge_id = %s",
                    (knowledge_id,),
                )
            ).fetchone()
        return page, int(total[0]) if total else 0

    async def add_files(
        self, knowledge_id: str, file_ids: list[str], user_id: str, is_admin: bool
    ) -> list[str]:
        """Link the files the caller may use (one statement, whatever their number); returns
        the ids that are not such files."""
        async with connection() as conn:
            cursor = await conn.execute(
                "WITH usable AS (SELECT id FROM files WHERE id = ANY(%(ids)s) "
                "AND (user_id = %(uid)s OR %(admin)s)), "
                "linked AS (INSERT INTO knowledge_files (knowledge_id, file_id) "
                "SELECT %(kid)s, id FROM usable ORDER BY id ON CONFLICT DO NOTHING) "
                "SELECT id FROM usable",
                {"ids": file_ids, "uid": user_id, "admin": is_admin, "kid": knowledge_id},
            )
            usable = {str(row[0]) for row in await cursor.fetchall()}
            await conn.execute(
                "UPDATE knowledge SET updated_at = now() WHERE id = %s", (knowledge_id,)
            )
        return [file_id for file_id in file_ids if file_id not in usable]

    async def remove_file(self, knowledge_id: str, file_id: str) -> bool:
        async with connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM knowledge_files WHERE knowledge_id = %s AND file_id = %s",
                (knowledge_id, file_id),
            )
            if cursor.rowcount:
                await conn.execute(
                    "UPDATE knowledge SET updated_at = now() WHERE id = %s", (knowledge_id,)
                )
            return cursor.rowcount == 1

    async def files_only_here(self, knowledge_id: str, user_id: str, is_admin: bool) -> list[str]:
        """The collection's files that no other collection holds and the caller may delete."""
        async with connection() as conn:
            cursor = await conn.execute(
                "SELECT kf.file_id FROM knowledge_files kf JOIN files f ON f.id = kf.file_id "
                "WHERE kf.knowledge_id = %(id)s AND (f.user_id = %(uid)s OR %(admin)s) "
                "AND NOT EXISTS (SELECT 1 FROM knowledge_files other "
                "WHERE other.file_id = kf.file_id AND other.knowledge_id <> kf.knowledge_id)",
                {"id": knowledge_id, "uid": user_id, "admin": is_admin},
            )
            return [str(row[0]) for row in await cursor.fetchall()]
