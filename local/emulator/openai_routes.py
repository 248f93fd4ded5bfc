"""The OpenAI-compatible API that Ollama serves under /v1."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from collections.abc import Iterator
from typing import Any

from local.emulator import validation as check
from local.emulator.content import count_tokens, prompt_token_count
from local.emulator.faults import UNKNOWN_FIELD, UNKNOWN_VALUE
from local.emulator.replies import ToolCall, plan_chat
from local.emulator.routing import (
    HttpError,
    Reply,
    RequestContext,
    Route,
    StreamReply,
    WholeReply,
    json_reply,
    route,
)
from local.emulator.wire import OPENAI, SSE_DONE

_FINGERPRINT = "fp_ollama"


def openai_routes() -> list[Route]:
    return [
        route("GET", "/v1/models", list_models),
        route("GET", "/v1/models/{model}", get_model),
        route("POST", "/v1/chat/completions", chat_completions, kind="model"),
        route("POST", "/v1/embeddings", create_embeddings, kind="model"),
    ]


async def list_models(ctx: RequestContext) -> Reply:
    data = [entry.openai_entry() for entry in ctx.state.catalog.entries]
    return json_reply({"object": "list", "data": data})


async def get_model(ctx: RequestContext) -> Reply:
    name = ctx.params["model"]
    entry = ctx.state.catalog.resolve(name)
    if entry is None:
        raise HttpError(404, f"model '{name}' not found")
    return json_reply(entry.openai_entry())


async def chat_completions(ctx: RequestContext) -> StreamReply | WholeReply:
    body = ctx.json_object()
    name, entry = check.require_model(ctx, body, "chat")
    messages = check.messages(body)
    if not messages:
        raise HttpError(400, "messages is required")
    stream = check.flag(body, "stream", default=False)
    stream_options = check.optional(body, "stream_options", dict, "an object") or {}
    include_usage = stream and check.flag(stream_options, "include_usage", default=False)
    key = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    limit = check.optional(body, key, int, "an integer")
    if limit is not None and limit < 1:
        raise HttpError(400, f"{key} must be at least 1")
    tools = check.optional(body, "tools", list, "a list") or []
    format_ = check.openai_format(body)
    think = check.reasoning_level(body, entry, name)
    images = check.openai_images(messages)
    ctx.state.mark_loaded(entry, None)
    ctx.state.stats.record_images(images)
    plan = plan_chat(
        messages,
        tools=tools,
        format_=format_,
        think=think,
        limit=limit,
        echo_grounded=ctx.faults.echo_grounded,
    )
    if plan.tool_call is not None:
        finish_reason = "tool_calls"
    else:
        finish_reason = "length" if plan.truncated else "stop"
    prompt_tokens = prompt_token_count(messages)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": plan.eval_count,
        "total_tokens": prompt_tokens + plan.eval_count,
    }
    hostile = ctx.faults.unknown_fields
    # One id and one timestamp per completion: every chunk of a stream repeats them.
    head: dict[str, Any] = {
        "id": f"chatcmpl-{ctx.state.next_id()}",
        "object": "chat.completion.chunk" if stream else "chat.completion",
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": _FINGERPRINT,
    }
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(plan.content)}
        if plan.thinking:
            # Ollama's name for it; OpenAI-compatible servers differ (reasoning_content).
            message["reasoning"] = "".join(plan.thinking)
        if plan.tool_call is not None:
            message["tool_calls"] = [_call(plan.tool_call, 0)]
        choice = {"index": 0, "message": message, "finish_reason": finish_reason}
        payload = head | {"choices": [choice], "usage": usage}
        if hostile:
            payload[UNKNOWN_FIELD] = choice[UNKNOWN_FIELD] = message[UNKNOWN_FIELD] = UNKNOWN_VALUE
        return WholeReply(OPENAI, plan.units, lambda: payload)

    def chunk(choices: list[dict[str, Any]], usage_value: dict[str, int] | None) -> bytes:
        payload = head | {"choices": choices}
        if include_usage:
            payload["usage"] = usage_value
        if hostile:
            payload[UNKNOWN_FIELD] = UNKNOWN_VALUE
            for choice in choices:
                choice[UNKNOWN_FIELD] = choice["delta"][UNKNOWN_FIELD] = UNKNOWN_VALUE
        return OPENAI.frame(payload)

    first = [True]

    def delta_chunk(delta: dict[str, Any]) -> bytes:
        if first[0]:
            first[0] = False
            delta = {"role": "assistant"} | delta
        return chunk([{"index": 0, "delta": delta, "finish_reason": None}], None)

    def frames() -> Iterator[bytes]:
        for token in plan.thinking:
            yield delta_chunk({"content": "", "reasoning": token})
        if plan.tool_call is not None:
            yield delta_chunk({"content": "", "tool_calls": [_call(plan.tool_call, 0)]})
        for token in plan.content:
            yield delta_chunk({"content": token})

    def tail() -> list[bytes]:
        closing = [chunk([{"index": 0, "delta": {}, "finish_reason": finish_reason}], None)]
        if include_usage:
            closing.append(chunk([], usage))
        return [*closing, SSE_DONE]

    return StreamReply(OPENAI, frames(), tail, filler=lambda text: delta_chunk({"content": text}))


def _call(call: ToolCall, index: int) -> dict[str, Any]:
    arguments = json.dumps(call.arguments, separators=(",", ":"))
    # Deterministic, like everything the emulator says.
    digest = hashlib.blake2b(f"{call.name}{arguments}".encode(), digest_size=4).hexdigest()
    return {
        "id": f"call_{digest}",
        "index": index,
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


async def create_embeddings(ctx: RequestContext) -> WholeReply:
    body = ctx.json_object()
    name, entry = check.require_model(ctx, body, "embeddings")
    inputs = check.text_inputs(body)
    if not inputs:
        raise HttpError(400, "invalid input")
    size = check.dimensions(body, entry)
    encoding = check.optional(body, "encoding_format", str, "a string") or "float"
    if encoding not in ("float", "base64"):
        raise HttpError(400, "encoding_format must be 'float' or 'base64'")
    ctx.state.mark_loaded(entry, None)
    prompt_tokens = sum(count_tokens(text) for text in inputs)
    vectors = await ctx.state.embed(entry, inputs, size)

    def render() -> dict[str, Any]:
        data = [
            {"object": "embedding", "index": index, "embedding": _encode(vector, encoding)}
            for index, vector in enumerate(vectors)
        ]
        return {
            "object": "list",
            "data": data,
            "model": name,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }

    return WholeReply(OPENAI, 0, render)


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    # What the official clients request by default: little-endian float32, base64-encoded.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
