"""What the chats store reads and writes: plain frozen records, and the stale-stream rule.

A message is ``streaming`` while a generation writes it. The writer checkpoints it every few
seconds, so a ``streaming`` row whose last checkpoint (or creation) is older than
``stale_after`` seconds has lost its writer (a timeout, an OOM kill) and **reads** as
``interrupted``. The row itself is not rewritten: no cron job, and a late ``finish`` from a
writer that was only slow still lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

Role = Literal["system", "user", "assistant", "tool"]
Status = Literal["streaming", "complete", "cancelled", "error", "interrupted"]
FinalStatus = Literal["complete", "cancelled", "error", "interrupted"]
FINAL_STATUSES: frozenset[str] = frozenset({"complete", "cancelled", "error", "interrupted"})


def read_status(stored: str, last_sign_of_life: datetime, fresh_since: datetime) -> Status:
    """The status a reader sees: a ``streaming`` row not checkpointed since ``fresh_since``
    is ``interrupted``."""
    if stored == "streaming" and last_sign_of_life < fresh_since:
        return "interrupted"
    return cast(Status, stored)  # the column's CHECK holds it to these values


def fresh_since(now: datetime, stale_after: float) -> datetime:
    return now - timedelta(seconds=stale_after)


@dataclass(frozen=True, slots=True)
class Chat:
    id: str
    user_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    archived: bool
    pinned: bool
    meta: dict[str, Any]
    # Attached files and collections: [{"type", "id", "name"}].
    files: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ChatSummary:
    id: str
    title: str
    updated_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    chat_id: str
    user_id: str
    parent_id: str | None
    role: Role
    content: str
    content_parts: list[dict[str, Any]] | None
    reasoning: str | None
    tool_calls: list[dict[str, Any]] | None
    model: str | None
    # As read: a stale ``streaming`` row is already ``interrupted`` here.
    status: Status
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    task_id: str | None
    client_id: str | None
    sources: list[Any] | None
    created_at: datetime
    updated_at: datetime
    checkpointed_at: datetime | None
    finished_at: datetime | None
    # The counts were estimated from what was relayed (translate/usage_estimate.py).
    usage_estimated: bool = False


@dataclass(frozen=True, slots=True)
class NewUserMessage:
    content: str
    content_parts: list[dict[str, Any]] | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStart:
    user_id: str
    chat_id: str
    model: str
    task_id: str
    # The request's ``id``: the idempotency key of the turn.
    assistant_client_id: str | None
    # None means regenerate: ``parent_id`` names the user message to answer again.
    user_message: NewUserMessage | None
    # The message to attach under; None means the chat's current leaf, or with ``at_root``
    # the top of the chat (an edited first question: a sibling of the first question).
    parent_id: str | None = None
    at_root: bool = False


@dataclass(frozen=True, slots=True)
class ExistingTurn:
    """The assistant message a repeated ``assistant_client_id`` already created."""

    message_id: str
    user_message_id: str | None
    status: Status
    content: str
    reasoning: str | None
    model: str | None
    error: str | None
    task_id: str | None
    prompt_tokens: int | None
    completion_tokens: int | None

    @property
    def usage(self) -> dict[str, int]:
        prompt, completion = self.prompt_tokens or 0, self.completion_tokens or 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }


@dataclass(frozen=True, slots=True)
class TurnBegun:
    user_message_id: str | None
    assistant_message_id: str
    task_id: str
    existing: ExistingTurn | None = None


@dataclass(frozen=True, slots=True)
class TurnResult:
    status: FinalStatus
    content: str
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    sources: list[Any] | None = None
    usage_estimated: bool = False

    def __post_init__(self) -> None:
        if self.status not in FINAL_STATUSES:
            raise ValueError(f"a finished turn's status is one of {sorted(FINAL_STATUSES)}")


@dataclass(frozen=True, slots=True)
class TaskRef:
    user_id: str
    chat_id: str
    message_id: str
    status: Status
