"""Open WebUI's ``/api/v1/chats`` routes. Thin: parse, call one service method, return a schema.

Routes on one chat are ``Access.OWNER``: the service scopes every read and write to the caller
and answers 404 for anyone else's chat, never 403. Like Open WebUI's, they answer 200.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from functions.chat.chats.deps import provide_chats
from functions.chat.chats.schemas import ChatForm, ChatResponse, ChatTitleId, MessageForm
from functions.chat.chats.service import ChatsService
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access

USER = access(Access.USER)
OWNER = access(Access.OWNER)


class ChatsController(Controller):
    path = "/api/v1/chats"
    tags = ["chats"]
    dependencies = {"chats": Provide(provide_chats, sync_to_thread=False)}

    @get("/", opt=USER)
    async def list_chats(
        self,
        principal: NamedDependency[Principal],
        chats: NamedDependency[ChatsService],
        page: Annotated[int | None, QueryParameter(ge=1, le=100_000)] = None,
        limit: Annotated[int | None, QueryParameter(ge=1, le=1000)] = None,
        include_pinned: FromQuery[bool] = False,
    ) -> list[ChatTitleId]:
        return await chats.list(principal, page=page, limit=limit, include_pinned=include_pinned)

    @post("/new", opt={**USER, **may_answer(404)}, status_code=200)
    async def create_chat(
        self,
        data: JSONBody[ChatForm],
        principal: NamedDependency[Principal],
        chats: NamedDependency[ChatsService],
    ) -> ChatResponse:
        return await chats.create(principal, data)

    @get("/{chat_id:str}", opt=OWNER)
    async def get_chat(
        self,
        chat_id: FromPath[str],
        principal: NamedDependency[Principal],
        chats: NamedDependency[ChatsService],
    ) -> ChatResponse:
        return await chats.get(principal, chat_id)

    @post("/{chat_id:str}", opt=OWNER, status_code=200)
    async def update_chat(
        self,
        chat_id: FromPath[str],
        data: JSONBody[ChatForm],
        principal: NamedDependency[Principal],
        chats: NamedDependency[ChatsService],
    ) -> ChatResponse:
        return await chats.update(principal, chat_id, data)

    @post(
        "/{chat_id:str}/messages/{message_id:str}",
        opt={**OWNER, **may_answer(409)},
        status_code=200,
    )
    async def edit_message(
        self,
        chat_id: FromPath[str],
        message_id: FromPath[str],
        data: JSONBody[MessageForm],
        principal: NamedDependency[Principal],
        chats: NamedDependency[ChatsService],
    ) -> ChatResponse:
        return await chats.edit_message(principal, chat_id, message_id, data)

    @delete("/{chat_id:str}", opt=OWNER, status_code=200)
    async def delete_chat(
        self,
        chat_id: FromPath[str],
        principal: NamedDependency[Principal],
        chats: NamedDependency[ChatsService],
    ) -> bool:
        await chats.delete(principal, chat_id)
        return True


def chat_route_handlers() -> list[ControllerRouterHandler]:
    """The chat history routes, for ``functions.chat.app.route_handlers()`` to compose."""
    return [ChatsController]
