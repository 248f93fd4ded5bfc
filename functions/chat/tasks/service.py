"""Stopping generations from any instance: by task id (Open WebUI's route) or by chat.

A stop sets a flag in the owner's DynamoDB state; the instance relaying that generation sees it
on its next poll, closes the upstream (the GPU stops) and saves the partial answer as
``cancelled``. Only the owner, or an admin, can stop a generation; to anyone else it does not
exist (404). A second stop, or a stop after the answer completed, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.chat.chats.store import ChatsStore
from functions.chat.generation.registry import GenerationRegistry
from stratus.auth import Principal
from stratus.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class StopResult:
    status: bool
    message: str


def _not_found() -> NotFoundError:
    return NotFoundError("Task not found.")


class StopService:
    def __init__(self, registry: GenerationRegistry, chats: ChatsStore) -> None:
        self.registry = registry
        self.chats = chats

    async def stop_task(self, principal: Principal, task_id: str) -> StopResult:
        # The common case costs one conditional write on the caller's own state.
        if await self.registry.stop_task(principal.user_id, task_id, only_if_running=True):
            return StopResult(True, f"Task {task_id} stopped.")
        ref = await self.chats.task_owner(task_id)
        if ref is None or (ref.user_id != principal.user_id and not principal.is_admin):
            # Not running, and not a saved turn of the caller's: a bare API generation that
            # ended leaves nothing behind, so it reads like one that never existed (as in
            # Open WebUI, which answers 404 once a task is gone).
            raise _not_found()
        if ref.status != "streaming":
            return StopResult(False, f"Task {task_id} has already finished.")
        # Saved as streaming but not (or no longer) registered: it may be about to register.
        # An unconditional flag wins either way: registration reads it.
        await self.registry.stop_task(ref.user_id, task_id, only_if_running=False)
        return StopResult(True, f"Task {task_id} stopped.")

    async def stop_chat(self, principal: Principal, chat_id: str) -> list[str]:
        """Stops every generation of the chat, including one that has not registered yet."""
        owner = await self._owner(principal, chat_id)
        task_ids = await self.chats.streaming_task_ids(owner, chat_id)
        await self.registry.stop_chat(owner, chat_id)
        return task_ids

    async def chat_tasks(self, principal: Principal, chat_id: str) -> list[str]:
        owner = await self._owner(principal, chat_id)
        return await self.chats.streaming_task_ids(owner, chat_id)

    async def _owner(self, principal: Principal, chat_id: str) -> str:
        owner = await self.chats.chat_owner(chat_id, principal.user_id, as_admin=principal.is_admin)
        if owner is None:
            raise NotFoundError("Chat not found.")
        return owner
