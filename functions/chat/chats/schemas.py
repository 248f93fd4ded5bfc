"""Open WebUI's chat shapes (``backend/open_webui/models/chats.py`` and the messages its web
client keeps in ``chat.history``), built by the server from its own rows.

Request bodies carry Open WebUI's whole ``chat`` object, but only ``title`` is taken from it:
messages, roles and statuses are written by the server alone, so a client cannot forge them.
Timestamps are epoch seconds, as Open WebUI's; ``chat.timestamp`` is milliseconds, as its web
client writes it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from functions.chat.chats.records import Role, Status
from stratus.web.text import MultiLine

Title = Annotated[str, Meta(max_length=1000)]
FolderId = Annotated[str, Meta(max_length=128)]
MAX_ATTACHED = 100


class ChatFields(Struct):
    """Open WebUI's ``chat`` object. Its other fields (``history``, ``messages``, ``models``,
    ``tags``...) are accepted and ignored."""

    title: Title | None = None
    # The files and collections attached to the chat (Open WebUI's ``chat.files``): the whole
    # list, replacing the saved one. Entries of other types (Open WebUI's images, web pages)
    # and their other fields are dropped; see ``service.attached_files``.
    files: Annotated[list[dict[str, Any]], Meta(max_length=MAX_ATTACHED)] | None = None


class ChatForm(Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/chats/new`` and ``POST /api/v1/chats/{id}``."""

    chat: ChatFields
    # Folders do not exist here: a folder id names nothing (404), as an unknown one does in
    # Open WebUI.
    folder_id: FolderId | None = None
    # Accepted for Open WebUI's clients; not used.
    variables: dict[str, Any] | None = None
    deleted_message_ids: list[Annotated[str, Meta(max_length=128)]] | None = None


class MessageForm(Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/chats/{id}/messages/{message_id}``: the message's new text."""

    # As long as the request body may be, as a completion's message content.
    content: MultiLine


class AttachedFile(Struct, frozen=True):
    """A file or collection attached to a chat, as ``chat.files`` lists it."""

    type: Literal["file", "collection"]
    id: str
    name: str


class ChatTitleId(Struct, frozen=True):
    """One entry of ``GET /api/v1/chats/``."""

    id: str
    title: str
    updated_at: int
    created_at: int


class MessageUsage(Struct, frozen=True, omit_defaults=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    # True when the upstream never counted them: estimated from what was relayed.
    estimated: bool = False


class MessageError(Struct, frozen=True):
    """Open WebUI's ``message.error``: an object with the text under ``content``."""

    content: str


class MessageFile(Struct, frozen=True):
    """An image sent with a user message, as Open WebUI's ``message.files`` holds it."""

    type: str
    url: str


class HistoryMessage(Struct, frozen=True):
    id: str
    parent_id: str | None = msgspec.field(name="parentId")
    children_ids: list[str] = msgspec.field(name="childrenIds")
    role: Role
    content: str
    model: str | None
    timestamp: int
    # False while the answer is being written (status ``streaming``).
    done: bool
    status: Status
    usage: MessageUsage | None
    error: MessageError | None
    sources: list[Any] | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]] | None
    files: list[MessageFile] | None


class ChatHistory(Struct, frozen=True):
    messages: dict[str, HistoryMessage]
    current_id: str | None = msgspec.field(name="currentId")


class ChatBody(Struct, frozen=True):
    title: str
    # The models that answered on the current branch, first use first.
    models: list[str]
    history: ChatHistory
    # The current branch, root to leaf.
    messages: list[HistoryMessage]
    timestamp: int
    files: list[AttachedFile]


class ChatResponse(Struct, frozen=True):
    id: str
    user_id: str
    title: str
    chat: ChatBody
    updated_at: int
    created_at: int
    archived: bool
    pinned: bool
    meta: dict[str, Any]
    share_id: str | None = None
    folder_id: str | None = None
