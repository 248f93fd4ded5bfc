"""A retried turn whose answer is already saved: the same answer again, and no upstream call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from functions.chat.generation import sse
from functions.chat.generation.answer import Answer
from functions.chat.generation.turns import ReplayTurnError
from functions.chat.schemas.openai import ChatCompletionRequest

if TYPE_CHECKING:
    from litestar.types import Receive, Scope, Send

_encode = msgspec.json.Encoder().encode
_FINISH = {"complete": "stop", "cancelled": "stop", "interrupted": "length", "error": "stop"}


class ReplayResponse(Answer):
    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def replay_response(
    req: ChatCompletionRequest, replay: ReplayTurnError, created: int
) -> ReplayResponse:
    existing = replay.existing
    task_id = existing.task_id or replay.turn.assistant_message_id
    base: dict[str, Any] = {"id": f"chatcmpl-{task_id}", "created": created, "model": req.model}
    finish = _FINISH.get(existing.status, "stop")
    message: dict[str, Any] = {"role": "assistant", "content": existing.content}
    if existing.reasoning:
        message["reasoning_content"] = existing.reasoning
    headers = [
        (b"x-stratus-task-id", task_id.encode()),
        (b"x-stratus-message-id", replay.turn.assistant_message_id.encode()),
        (b"x-stratus-replayed", b"true"),
    ]
    if not req.stream:
        body = {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": existing.usage,
        }
        return ReplayResponse(
            200, _encode(body), [(b"content-type", b"application/json"), *headers]
        )
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    extra = {"usage": None} if include_usage else {}
    chunk = {**base, "object": "chat.completion.chunk", **extra}
    chunks = [
        {**chunk, "choices": [{"index": 0, "delta": message, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
    ]
    if include_usage:
        chunks.append(
            {**base, "object": "chat.completion.chunk", "choices": [], "usage": existing.usage}
        )
    return ReplayResponse(200, sse.events(chunks) + sse.DONE, [*sse.HEADERS, *headers])
