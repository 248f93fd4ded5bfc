"""``POST /v1/chat/completions`` and Open WebUI's ``POST /api/chat/completions``.

The task id of every generation is in the ``x-stratus-task-id`` response header and is the
suffix of every chunk's ``id`` (``chatcmpl-<task_id>``): stop it with
``POST /api/tasks/stop/{task_id}``.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from functions.chat.deps import provide_generations
from functions.chat.generation.answer import Answer
from functions.chat.generation.service import GenerationService
from functions.chat.request_info import request_info
from functions.chat.schemas.completion import ChatCompletion
from functions.chat.schemas.openai import ChatCompletionRequest
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access


class CompletionsController(Controller):
    tags = ["chat"]
    dependencies = {"generations": Provide(provide_generations, sync_to_thread=False)}

    @post(
        ["/v1/chat/completions", "/api/chat/completions"],
        opt={**access(Access.USER), **may_answer(404, 409, 429, 502, 503)},
        status_code=200,
        responses={
            200: ResponseSpec(
                data_container=ChatCompletion,
                generate_examples=False,
                description=(
                    "The chat.completion; with stream=true, text/event-stream of "
                    "chat.completion.chunk events ending in [DONE]. The task id is in the "
                    "x-stratus-task-id header."
                ),
            )
        },
    )
    async def completions(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatCompletionRequest],
        principal: NamedDependency[Principal],
        generations: NamedDependency[GenerationService],
    ) -> Answer:
        return await generations.start(principal, data, request_info(request))
