"""Chat history for Open WebUI's ``/api/v1/chats`` routes: scoped to the caller, shaped like
Open WebUI's answers.

Only a chat's owner reads, renames or deletes it; anyone else, administrators included, gets
404 exactly as for a chat that does not exist. (Open WebUI lets administrators read every chat
unless ``ENABLE_ADMIN_CHAT_ACCESS`` is off; here private chats stay private by default, and the
store's ``as_admin`` read is there for a setting to turn on later.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.chat.chats.history import branch_to, children_of, current_leaf
from functions.chat.chats.records import Chat, Message
from functions.chat.chats.schemas import (
    AttachedFile,
    ChatBody,
    ChatForm,
    ChatHistory,
    ChatResponse,
    ChatTitleId,
    HistoryMessage,
    MessageError,
    MessageFile,
    MessageForm,
    MessageUsage,
)
from functions.chat.chats.store import ChatsStore
from stratus.auth import Principal
from stratus.errors import NotFoundError, ValidationError
from stratus.web.text import check_text

# Open WebUI's page size for ``GET /api/v1/chats/?page=``.
PAGE_SIZE = 60
DEFAULT_TITLE = "New Chat"
_MAX_ID_LENGTH = 128
_MAX_NAME_LENGTH = 1000


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _not_found() -> NotFoundError:
    return NotFoundError("Chat not found.")


def _checked_id(chat_id: str) -> str:
    # Ids are the server's own UUIDs; anything unprintable or oversized names no chat (and NUL
    # must never reach Postgres).
    if len(chat_id) > _MAX_ID_LENGTH or not chat_id.isprintable():
        raise _not_found()
    return chat_id


def _title(raw: str | None) -> str | None:
    if raw is None:
        return None
    return check_text(raw, "chat.title").strip() or DEFAULT_TITLE


def attached_files(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The ``file`` and ``collection`` entries of Open WebUI's ``chat.files``, as stored:
    ``{"type", "id", "name"}``, each once. Other types (images, web pages) are not searched
    here, so they are dropped like the chat's other Open WebUI fields. A reference names
    nothing yet: a completion that uses it checks it is the caller's (404 otherwise)."""
    if entries is None:
        return None
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    for number, entry in enumerate(entries):
        kind, ref = entry.get("type"), entry.get("id")
        if kind not in ("file", "collection"):
            continue
        where = f"chat.files[{number}]"
        if not isinstance(ref, str) or not ref or len(ref) > _MAX_ID_LENGTH:
            raise ValidationError(f"{where}.id must be an id (1 to 128 characters).", param=where)
        name = entry.get("name")
        if name is None:
            name = ref
        if not isinstance(name, str) or len(name) > _MAX_NAME_LENGTH:
            raise ValidationError(f"{where}.name must be text (at most 1000 characters).")
        kept.setdefault(
            (kind, ref),
            {"type": kind, "id": check_text(ref, f"{where}.id"), "name": check_text(name, where)},
        )
    return list(kept.values())


def _usage(message: Message) -> MessageUsage | None:
    if message.prompt_tokens is None and message.completion_tokens is None:
        return None
    prompt, completion = message.prompt_tokens or 0, message.completion_tokens or 0
    return MessageUsage(prompt, completion, prompt + completion, message.usage_estimated)


def _files(message: Message) -> list[MessageFile] | None:
    """OpenAI ``image_url`` content parts as Open WebUI's ``files`` entries."""
    images = []
    for part in message.content_parts or []:
        image = part.get("image_url") if part.get("type") == "image_url" else None
        url = image.get("url") if isinstance(image, dict) else None
        if isinstance(url, str):
            images.append(MessageFile("image", url))
    return images or None


def _message(message: Message, children: list[str]) -> HistoryMessage:
    return HistoryMessage(
        id=message.id,
        parent_id=message.parent_id,
        children_ids=children,
        role=message.role,
        content=message.content,
        model=message.model,
        timestamp=_epoch(message.created_at),
        done=message.status != "streaming",
        status=message.status,
        usage=_usage(message) if message.role == "assistant" else None,
        error=MessageError(message.error) if message.error is not None else None,
        sources=message.sources,
        reasoning=message.reasoning,
        tool_calls=message.tool_calls,
        files=_files(message),
    )


def chat_response(chat: Chat, messages: list[Message]) -> ChatResponse:
    children = children_of(messages)
    shaped = {m.id: _message(m, children[m.id]) for m in messages}
    leaf = current_leaf(messages, children)
    branch = [shaped[m.id] for m in branch_to(leaf, messages)]
    models = list(dict.fromkeys(m.model for m in branch if m.role == "assistant" and m.model))
    body = ChatBody(
        title=chat.title,
        models=models,
        history=ChatHistory(messages=shaped, current_id=leaf.id if leaf else None),
        messages=branch,
        timestamp=int(chat.created_at.timestamp() * 1000),
        files=[AttachedFile(f["type"], f["id"], f["name"]) for f in chat.files],
    )
    return ChatResponse(
        id=chat.id,
        user_id=chat.user_id,
        title=chat.title,
        chat=body,
        updated_at=_epoch(chat.updated_at),
        created_at=_epoch(chat.created_at),
        archived=chat.archived,
        pinned=chat.pinned,
        meta=chat.meta,
    )


@dataclass(frozen=True, slots=True)
class ChatsService:
    store: ChatsStore

    async def list(
        self, principal: Principal, *, page: int | None, limit: int | None, include_pinned: bool
    ) -> list[ChatTitleId]:
        """Open WebUI's list: every chat without ``page``, pages of 60 with it. ``limit``
        (ours) sets the page size, or caps the unpaged list."""
        offset = 0
        if page is not None:
            limit = limit or PAGE_SIZE
            offset = (page - 1) * limit
        rows = await self.store.list_chats(
            principal.user_id, limit=limit, offset=offset, include_pinned=include_pinned
        )
        return [
            ChatTitleId(row.id, row.title, _epoch(row.updated_at), _epoch(row.created_at))
            for row in rows
        ]

    async def create(self, principal: Principal, form: ChatForm) -> ChatResponse:
        if form.folder_id is not None:
            raise NotFoundError("Folder not found.", param="folder_id")
        chat = await self.store.create(
            principal.user_id,
            _title(form.chat.title) or DEFAULT_TITLE,
            attached_files(form.chat.files),
        )
        return chat_response(chat, [])

    async def get(self, principal: Principal, chat_id: str) -> ChatResponse:
        found = await self.store.get(_checked_id(chat_id), principal.user_id)
        if found is None:
            raise _not_found()
        return chat_response(*found)

    async def update(self, principal: Principal, chat_id: str, form: ChatForm) -> ChatResponse:
        """Open WebUI's update, limited to the title and the attached files: the history is the
        server's."""
        chat_id = _checked_id(chat_id)
        title = _title(form.chat.title)
        files = attached_files(form.chat.files)
        if form.folder_id is not None:
            raise NotFoundError("Folder not found.", param="folder_id")
        if title is None and files is None:
            return await self.get(principal, chat_id)
        found = await self.store.update(chat_id, principal.user_id, title=title, files=files)
        if found is None:
            raise _not_found()
        return chat_response(*found)

    async def edit_message(
        self, principal: Principal, chat_id: str, message_id: str, form: MessageForm
    ) -> ChatResponse:
        """Open WebUI's message edit: the text of one question or answer, in place (a resent
        question is a new branch instead: a completion with ``parent_id``)."""
        chat_id = _checked_id(chat_id)
        if len(message_id) > _MAX_ID_LENGTH or not message_id.isprintable():
            raise NotFoundError("Message not found.", param="message_id")
        await self.store.edit_message(chat_id, principal.user_id, message_id, form.content)
        return await self.get(principal, chat_id)

    async def delete(self, principal: Principal, chat_id: str) -> None:
        if not await self.store.delete(_checked_id(chat_id), principal.user_id):
            raise _not_found()
