"""Stop routes: Open WebUI's ``/api/tasks/...`` and ``POST /api/v1/chats/{id}/stop``."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from msgspec import Struct

from functions.chat.deps import provide_stops
from functions.chat.tasks.service import StopService
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access
from stratus.web.text import PathId

OWNER = access(Access.OWNER)
STOP = {**OWNER, **may_answer(503)}


class StopAnswer(Struct, frozen=True):
    status: bool
    message: str


class ChatStopAnswer(Struct, frozen=True):
    status: bool
    task_ids: list[str]


class TaskList(Struct, frozen=True):
    task_ids: list[str]


class TasksController(Controller):
    tags = ["chat"]
    dependencies = {"stops": Provide(provide_stops, sync_to_thread=False)}

    @post("/api/tasks/stop/{task_id:str}", opt=STOP, status_code=200)
    async def stop_task(
        self,
        task_id: PathId,
        principal: NamedDependency[Principal],
        stops: NamedDependency[StopService],
    ) -> StopAnswer:
        result = await stops.stop_task(principal, task_id)
        return StopAnswer(result.status, result.message)

    @get("/api/tasks/chat/{chat_id:str}", opt=OWNER)
    async def chat_tasks(
        self,
        chat_id: PathId,
        principal: NamedDependency[Principal],
        stops: NamedDependency[StopService],
    ) -> TaskList:
        return TaskList(await stops.chat_tasks(principal, chat_id))

    @post("/api/v1/chats/{chat_id:str}/stop", opt=STOP, status_code=200)
    async def stop_chat(
        self,
        chat_id: PathId,
        principal: NamedDependency[Principal],
        stops: NamedDependency[StopService],
    ) -> ChatStopAnswer:
        return ChatStopAnswer(True, await stops.stop_chat(principal, chat_id))
