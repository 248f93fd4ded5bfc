"""A completion with a ``chat_id`` is a chat turn: saved before the model is asked, and after.

Turn fields on the request (Open WebUI's names where it has them):

- ``chat_id``: the chat the turn is saved into (404 if it is not the caller's: no upstream call);
- ``id``: the client's id for the answer, the turn's idempotency key: a retry with the same
  ``id`` makes no second question and no second generation;
- ``user_message_id``: the client's id for the new question (optional);
- ``parent_id``: where the turn hangs. A user message there means *regenerate*: a new answer
  to that question, as a sibling branch, and no new question. Anything else (or nothing, which
  means the chat's current leaf) is where the new question attaches; an edited question is
  resent under its old question's parent, so it becomes that question's sibling;
- ``at_root``: instead of ``parent_id``, the new question has no parent (an edited first
  question: a new branch from the top).

The new question is the request's last message, which must be the user's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.chat.chats.records import NewUserMessage, TurnResult, TurnStart
from functions.chat.chats.store import ChatsStore
from functions.chat.generation.outcome import Ending, Outcome
from functions.chat.generation.relay import ChunkTranslator, Turn
from functions.chat.schemas.messages import ImagePart, UserMessage, text_of
from functions.chat.schemas.openai import ChatCompletionRequest
from stratus.auth import Principal
from stratus.errors import ConflictError, NotFoundError, ValidationError

_STATUS = {
    Ending.COMPLETE: "complete",
    Ending.CANCELLED: "cancelled",
    Ending.ERROR: "error",
    Ending.INTERRUPTED: "interrupted",
}


class ReplayTurnError(Exception):
    """The turn's ``id`` was seen before and that answer is finished: send it again."""

    def __init__(self, turn: Turn, existing: Any) -> None:
        super().__init__("replay")
        self.turn = turn
        self.existing = existing


def _question(req: ChatCompletionRequest) -> NewUserMessage:
    last = req.messages[-1]
    if not isinstance(last, UserMessage):
        raise ValidationError(
            "With chat_id, the last message must be the user's new message.", param="messages"
        )
    parts = None
    if isinstance(last.content, list):
        images = [
            {"type": "image_url", "image_url": {"url": part.image_url.url}}
            for part in last.content
            if isinstance(part, ImagePart)
        ]
        parts = images or None
    return NewUserMessage(text_of(last.content), parts, req.user_message_id)


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """What ``TurnKeeper.check`` settled: the new question (or None: the turn regenerates the
    answer to its parent, a question), and whether its ``id`` was seen before (a retry: record
    it before asking the model, so a replay never reaches the upstream)."""

    question: NewUserMessage | None  # None: regenerate the answer to ``parent_id``
    seen: bool


class TurnKeeper:
    """The engine's side of the chats store: begin, checkpoint, finish, discard."""

    def __init__(self, store: ChatsStore) -> None:
        self.store = store

    async def check(self, principal: Principal, req: ChatCompletionRequest) -> TurnPlan:
        """Settle, in one read and before any upstream call, what may refuse the turn: someone
        else's chat or an unknown parent is a 404 (matrix row 1)."""
        assert req.chat_id is not None
        if req.at_root and req.parent_id is not None:
            raise ValidationError(
                "at_root starts a branch at the top of the chat: send it without parent_id.",
                param="at_root",
            )
        found = await self.store.turn_check(req.chat_id, principal.user_id, req.parent_id, req.id)
        if found is None or (req.parent_id is not None and found[0] is None):
            # Unknown chat or unknown message: the same 404, before any upstream call.
            raise NotFoundError("Chat or parent message not found.", param="parent_id")
        role, seen = found
        return TurnPlan(question=None if role == "user" else _question(req), seen=seen)

    async def begin(
        self,
        principal: Principal,
        req: ChatCompletionRequest,
        task_id: str,
        plan: TurnPlan,
    ) -> Turn:
        """Record the turn that ``check`` settled (``plan``)."""
        assert req.chat_id is not None
        begun = await self.store.begin_turn(
            TurnStart(
                user_id=principal.user_id,
                chat_id=req.chat_id,
                model=req.model,
                task_id=task_id,
                assistant_client_id=req.id,
                user_message=plan.question,
                parent_id=req.parent_id,
                at_root=req.at_root,
            )
        )
        turn = Turn(req.chat_id, begun.assistant_message_id, begun.user_message_id)
        existing = begun.existing
        if existing is None:
            return turn
        if existing.status == "streaming":
            raise ConflictError(
                f"This message is already being generated; its task id is {existing.task_id}.",
                param="id",
                code="generation_in_progress",
            )
        raise ReplayTurnError(turn, existing)

    async def discard(self, turn: Turn, user_id: str) -> None:
        await self.store.discard_turn(user_id, turn.assistant_message_id, turn.user_message_id)

    async def checkpoint(self, turn: Turn, content: str, reasoning: str) -> None:
        await self.store.checkpoint(turn.assistant_message_id, content, reasoning)

    async def finish(self, turn: Turn, translator: ChunkTranslator, outcome: Outcome) -> None:
        usage = translator.usage()
        await self.store.finish(
            turn.assistant_message_id,
            TurnResult(
                status=_STATUS[outcome.ending],  # type: ignore[arg-type]
                content=translator.content,
                reasoning=translator.reasoning,
                tool_calls=translator.tool_calls or None,
                error=outcome.error,
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
                sources=getattr(translator, "sources", None),
                usage_estimated=translator.usage_estimated,
            ),
        )
