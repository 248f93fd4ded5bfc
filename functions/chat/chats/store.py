"""Chats and their messages in Postgres: the chat routes' CRUD and the engine's turn lifecycle.

Every statement (``chats.sql``) binds its parameters. Nothing sets session state, takes an
advisory lock or names a prepared statement, so RDS Proxy never pins a connection. Each method
is **one statement in autocommit**: Postgres runs it as its own transaction and psycopg sends
no ``BEGIN``/``COMMIT``, so a call is one network round trip (``begin_turn`` included).
Autocommit is psycopg's client-side switch, not a session setting; it is put back before the
connection returns to the pool.

Ownership: every chat-scoped method takes the caller's ``user_id`` and treats someone else's
chat exactly like a missing one (None, False or ``NotFoundError``), so routes answer 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from functions.chat.chats import sql
from functions.chat.chats.pgvalues import NUL, json_text, text
from functions.chat.chats.records import (
    Chat,
    ChatSummary,
    ExistingTurn,
    Message,
    TaskRef,
    TurnBegun,
    TurnResult,
    TurnStart,
    fresh_since,
    read_status,
)
from stratus.db import autocommit
from stratus.errors import ConflictError, NotFoundError, ValidationError

__all__ = ["ChatsStore"]

_STATUS, _CREATED_AT, _CHECKPOINTED_AT = 10, 17, 19  # positions in sql.MESSAGE_COLUMNS


async def _rows(
    statement: str,
    params: Mapping[str, Any] | Sequence[Any],
    *,
    wait_seconds: float | None = None,
) -> list[tuple[Any, ...]]:
    async with autocommit(wait_seconds=wait_seconds) as conn:
        cursor = await conn.execute(statement, params)
        return await cursor.fetchall() if cursor.description else []


class ChatsStore:
    def __init__(self, *, stale_after: float) -> None:
        # Seconds without a checkpoint after which a streaming message reads as interrupted.
        self.stale_after = stale_after

    def _fresh_since(self) -> datetime:
        return fresh_since(datetime.now(UTC), self.stale_after)

    def _chat_with_messages(self, rows: list[tuple[Any, ...]]) -> tuple[Chat, list[Message]] | None:
        if not rows:
            return None
        fresh = self._fresh_since()
        messages = []
        for row in rows:
            values = list(row[sql.CHAT_WIDTH :])
            if values[0] is None:  # the LEFT JOIN's row for a chat without messages
                continue
            last_sign_of_life = values[_CHECKPOINTED_AT] or values[_CREATED_AT]
            values[_STATUS] = read_status(values[_STATUS], last_sign_of_life, fresh)
            messages.append(Message(*values))
        return Chat(*rows[0][: sql.CHAT_WIDTH]), messages

    # -- chats -----------------------------------------------------------------------------

    async def create(
        self, user_id: str, title: str, files: list[dict[str, Any]] | None = None
    ) -> Chat:
        params = (str(uuid.uuid4()), user_id, title, json_text(files or []))
        rows = await _rows(sql.INSERT_CHAT, params)
        return Chat(*rows[0])

    async def list_chats(
        self, user_id: str, *, limit: int | None, offset: int = 0, include_pinned: bool = False
    ) -> list[ChatSummary]:
        """The caller's chats, newest first. ``limit=None`` means all of them."""
        params = {"user_id": user_id, "pinned": include_pinned, "limit": limit, "offset": offset}
        return [ChatSummary(*row) for row in await _rows(sql.LIST_CHATS, params)]

    async def get(
        self, chat_id: str, user_id: str, *, as_admin: bool = False
    ) -> tuple[Chat, list[Message]] | None:
        """The chat and all its messages (every branch), oldest first, in one round trip.

        ``as_admin`` reads anyone's chat: the caller decides when an administrator may.
        """
        params = {"chat_id": chat_id, "user_id": user_id, "any": as_admin}
        return self._chat_with_messages(await _rows(sql.CHAT_WITH_MESSAGES, params))

    async def messages(self, chat_id: str, user_id: str) -> list[Message]:
        """The messages of the caller's chat, oldest first; [] for someone else's."""
        found = await self.get(chat_id, user_id)
        return found[1] if found else []

    async def update(
        self,
        chat_id: str,
        user_id: str,
        *,
        title: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> tuple[Chat, list[Message]] | None:
        """Set the title and/or the attached files (None keeps one); return the chat as ``get``
        does, or None if it is not the caller's."""
        params = {"chat_id": chat_id, "user_id": user_id, "title": title, "files": json_text(files)}
        return self._chat_with_messages(await _rows(sql.UPDATE_CHAT, params))

    async def edit_message(self, chat_id: str, user_id: str, message_id: str, content: str) -> None:
        """Replace a message's text. ``NotFoundError`` for someone else's chat or a message not
        in it, ``ConflictError`` while the answer is still being written."""
        params = {
            "chat_id": chat_id,
            "user_id": user_id,
            "message_id": message_id,
            "content": text(content),
            "fresh": self._fresh_since(),
        }
        owned, found, edited = (await _rows(sql.EDIT_MESSAGE, params))[0]
        if not owned:
            raise NotFoundError("Chat not found.")
        if not found:
            raise NotFoundError("Message not found.", param="message_id")
        if not edited:
            raise ConflictError(
                "This answer is still being written; stop it or wait until it is finished.",
                code="generation_in_progress",
            )

    async def delete(self, chat_id: str, user_id: str) -> bool:
        """Delete the caller's chat and, by cascade, its messages."""
        async with autocommit() as conn:
            cursor = await conn.execute(sql.DELETE_CHAT, (chat_id, user_id))
            return cursor.rowcount == 1

    # -- turns (the generation engine) -----------------------------------------------------

    async def begin_turn(self, turn: TurnStart) -> TurnBegun:
        """Record a turn before any upstream call, in one statement and one round trip.

        Checks the chat is the caller's (else ``NotFoundError``), inserts the user message
        (unless regenerating) and the assistant message (``streaming``, with the task id), and
        bumps the chat. A repeated ``assistant_client_id``, also a concurrent one, inserts
        nothing and returns the first request's message as ``existing``.
        """
        from psycopg import errors

        question = turn.user_message
        regenerate = question is None
        if regenerate and turn.parent_id is None:
            raise ValidationError(
                "parent_id must name the user message whose answer to regenerate.",
                param="parent_id",
            )
        if question is not None and NUL in question.content:
            raise ValidationError("Message content must not contain NUL characters.")
        params = {
            "chat_id": turn.chat_id,
            "user_id": turn.user_id,
            "parent_id": turn.parent_id,
            "at_root": turn.at_root,
            "regenerate": regenerate,
            "assistant_id": str(uuid.uuid4()),
            "assistant_client_id": turn.assistant_client_id,
            "user_message_id": None if question is None else str(uuid.uuid4()),
            "user_client_id": None if question is None else question.client_id,
            "content": "" if question is None else question.content,
            "content_parts": None if question is None else json_text(question.content_parts),
            "model": turn.model,
            "task_id": turn.task_id,
        }
        try:
            rows = await _rows(sql.BEGIN_TURN, params)
        except errors.UniqueViolation:
            # Not the answer's client id (ON CONFLICT absorbs that): the question's is taken.
            raise ConflictError(
                "A message with this id already exists in this chat.", param="id"
            ) from None
        owned, parent_role, assistant_id, question_id, *existing = rows[0]
        if not owned:
            raise NotFoundError("Chat not found.")
        if existing[0] is not None:
            return self._replay(existing)
        if assistant_id is not None:
            return TurnBegun(question_id, assistant_id, turn.task_id)
        if turn.parent_id is not None and parent_role is None:
            raise NotFoundError("parent_id names no message in this chat.", param="parent_id")
        if regenerate and parent_role != "user":
            raise ValidationError(
                "parent_id must name a user message to regenerate its answer.", param="parent_id"
            )
        # The unique index turned this insert away: a concurrent request with the same client
        # id won. Its row is committed now (we waited on the chat's lock), so read it.
        rows = await _rows(sql.EXISTING_TURN, params)
        if not rows:
            raise ConflictError("The chat changed during this request; try again.")
        return self._replay(rows[0])

    def _replay(self, row: Sequence[Any]) -> TurnBegun:
        message_id, parent_id, role, status, content, reasoning, model, error, task_id = row[:9]
        prompt_tokens, completion_tokens, created_at, checkpointed_at = row[9:13]
        if role != "assistant":
            raise ConflictError(
                "This id names a user message in this chat, not an answer.", param="id"
            )
        existing = ExistingTurn(
            message_id=message_id,
            user_message_id=parent_id,
            status=read_status(status, checkpointed_at or created_at, self._fresh_since()),
            content=content,
            reasoning=reasoning,
            model=model,
            error=error,
            task_id=task_id,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        return TurnBegun(parent_id, message_id, task_id or "", existing)

    async def checkpoint(self, message_id: str, content: str, reasoning: str) -> None:
        """Save the text so far (and prove the writer alive: see ``records``)."""
        await _rows(sql.CHECKPOINT, (text(content), text(reasoning), message_id))

    async def finish(self, message_id: str, result: TurnResult) -> None:
        """Write the final state, once.

        With the database busy (every connection taken), this waits for a connection as long
        as the turn still reads as running (``stale_after``), not the pool's usual timeout: a
        turn begun is finished, never left half-written because a burst took the pool.
        """
        await _rows(
            sql.FINISH,
            {
                "id": message_id,
                "content": text(result.content),
                "reasoning": text(result.reasoning),
                "tool_calls": json_text(result.tool_calls or None),
                "status": result.status,
                "error": None if result.error is None else text(result.error),
                "prompt": result.prompt_tokens,
                "completion": result.completion_tokens,
                "estimated": result.usage_estimated,
                "sources": json_text(result.sources),
            },
            wait_seconds=self.stale_after,
        )

    async def discard_turn(
        self, user_id: str, assistant_message_id: str, user_message_id: str | None
    ) -> None:
        """Remove a turn refused before it streamed (a rate limit): nothing of it stays. Waits
        for a connection as ``finish`` does."""
        params = {"user_id": user_id, "answer": assistant_message_id, "question": user_message_id}
        async with autocommit(wait_seconds=self.stale_after) as conn:
            await conn.execute(sql.DISCARD_TURN, params)

    async def turn_check(
        self, chat_id: str, user_id: str, parent_id: str | None, client_id: str | None
    ) -> tuple[str | None, bool] | None:
        """None when the chat is not the caller's; else the role of ``parent_id`` (None if it
        is not in the chat) and whether a message with ``client_id`` exists already."""
        params = {
            "chat_id": chat_id,
            "user_id": user_id,
            "parent_id": parent_id,
            "client_id": client_id,
        }
        rows = await _rows(sql.TURN_CHECK, params)
        if not rows:
            return None
        role, seen = rows[0]
        return (str(role) if role is not None else None), bool(seen)

    async def chat_owner(self, chat_id: str, user_id: str, *, as_admin: bool) -> str | None:
        """The chat's owner, if the caller may act on it (its owner, or any admin)."""
        rows = await _rows(
            sql.CHAT_OWNER, {"chat_id": chat_id, "user_id": user_id, "any": as_admin}
        )
        return str(rows[0][0]) if rows else None

    async def task_owner(self, task_id: str) -> TaskRef | None:
        """Who owns a generation, for the stop routes (which answer 404 to anyone else)."""
        rows = await _rows(sql.TASK_OWNER, (task_id,))
        if not rows:
            return None
        user_id, chat_id, message_id, status, created_at, checkpointed_at = rows[0]
        status = read_status(status, checkpointed_at or created_at, self._fresh_since())
        return TaskRef(user_id, chat_id, message_id, status)

    async def streaming_task_ids(self, user_id: str | None, chat_id: str) -> list[str]:
        """Task ids of the chat's generations still running (stale ones are interrupted, not
        running). ``user_id=None`` means any owner (an administrator's stop)."""
        params = {"chat_id": chat_id, "user_id": user_id, "fresh": self._fresh_since()}
        return [row[0] for row in await _rows(sql.STREAMING_TASKS, params)]
