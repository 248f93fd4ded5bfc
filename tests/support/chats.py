"""Helpers for the chats tests: accounts and chats written straight to the real database."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from stratus.db import connection


async def insert_user(label: str = "user") -> str:
    user_id = str(uuid.uuid4())
    async with connection() as conn:
        await conn.execute(
            "INSERT INTO users (id, email, name, role, password_hash) "
            "VALUES (%s, %s, %s, 'user', 'not-a-hash')",
            (user_id, f"{label}-{user_id[:8]}@example.test", label),
        )
    return user_id


async def message_rows(chat_id: str) -> list[dict[str, Any]]:
    """The stored rows as they are (no stale rule applied), oldest first."""
    async with connection() as conn:
        cursor = await conn.execute(
            "SELECT id, parent_id, role, status, content, client_id, task_id "
            "FROM messages WHERE chat_id = %s "
            "ORDER BY created_at, role = 'assistant', id",
            (chat_id,),
        )
        names = [column.name for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]


async def set_times(message_id: str, *, created_at: datetime, checkpointed_at: datetime | None):
    async with connection() as conn:
        await conn.execute(
            "UPDATE messages SET created_at = %s, checkpointed_at = %s WHERE id = %s",
            (created_at, checkpointed_at, message_id),
        )


async def chat_updated_at(chat_id: str) -> datetime:
    async with connection() as conn:
        cursor = await conn.execute("SELECT updated_at FROM chats WHERE id = %s", (chat_id,))
        row = await cursor.fetchone()
    assert row is not None
    value: datetime = row[0]
    return value
