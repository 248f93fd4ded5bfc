"""Ollama's native API (/api/*), as documented in ollama/docs/api.md."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from local.emulator import validation as check
from local.emulator.content import (
    count_tokens,
    expected_generate_reply,
    prompt_token_count,
    split_tokens,
    token_ids,
)
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
from local.emulator.wire import OLLAMA, now_rfc3339

_NDJSON = "application/x-ndjson"


def ollama_routes() -> list[Route]:
    return [
        route("GET HEAD", "/", root),
        route("GET HEAD", "/api/version", version),
        route("GET", "/api/tags", tags),
        route("GET", "/api/ps", ps),
        route("POST", "/api/show", show),
        route("POST", "/api/chat", chat, kind="model"),
        route("POST", "/api/generate", generate, kind="model"),
        route("POST", "/api/embed", embed, kind="model"),
        route("POST", "/api/embeddings", embeddings, kind="model"),
        route("POST", "/api/pull", pull, kind="management"),
        route("POST", "/api/push", push, kind="management"),
        route("POST", "/api/create", create, kind="management"),
        route("POST", "/api/copy", copy, kind="management"),
        route("DELETE", "/api/delete", delete, kind="management"),
        route("POST HEAD", "/api/blobs/{digest}", blob, kind="management"),
    ]


async def root(ctx: RequestContext) -> Reply:
    return Reply(200, b"Ollama is running", "text/plain; charset=utf-8")


async def version(ctx: RequestContext) -> Reply:
    return json_reply({"version": ctx.state.config.version})


async def tags(ctx: RequestContext) -> Reply:
    return json_reply({"models": [entry.tag_entry() for entry in ctx.state.catalog.entries]})


async def ps(ctx: RequestContext) -> Reply:
    loaded = ctx.state.loaded_models()
    return json_reply({"models": [entry.ps_entry(expires) for entry, expires in loaded]})


async def show(ctx: RequestContext) -> Reply:
    body = ctx.json_object()
    # Older clients send the model as "name".
    name = body.get("model") or body.get("name")
    if not isinstance(name, str) or not name:
        raise HttpError(400, "model is required")
    entry = ctx.state.catalog.resolve(name)
    if entry is None:
        raise HttpError(404, f"model '{name}' not found")
    return json_reply(entry.show_payload())


class _Timer:
    """Real elapsed times, in Ollama's nanoseconds, for the final `done` object."""

    def __init__(self, started_ns: int) -> None:
        self.started = started_ns
        self.prompt_start = time.perf_counter_ns()
        self.first_token: int | None = None

    def token(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter_ns()

    def fields(self, prompt_count: int, eval_count: int) -> dict[str, int]:
        now = time.perf_counter_ns()
        # A non-streamed reply never ticks: its whole generation counts as evaluation.
        first = self.first_token or self.prompt_start
        return {
            "total_duration": now - self.started,
            "load_duration": self.prompt_start - self.started,
            "prompt_eval_count": prompt_count,
            "prompt_eval_duration": first - self.prompt_start,
            "eval_count": eval_count,
            "eval_duration": now - first,
        }


async def chat(ctx: RequestContext) -> Reply | StreamReply | WholeReply:
    body = ctx.json_object()
    name, entry = check.require_model(ctx, body, "chat")
    messages = check.messages(body)
    stream = check.flag(body, "stream", default=True)
    options = check.optional(body, "options", dict, "an object") or {}
    limit = check.token_limit(options.get("num_predict"), "num_predict")
    tools = check.optional(body, "tools", list, "a list") or []
    format_ = check.ollama_format(body)
    check.optional(body, "think", (bool, str), "a boolean or a level")
    think = check.think_level(body.get("think"), entry, name)
    images = check.ollama_images(messages)
    keep_alive = check.keep_alive(body)
    ctx.state.mark_loaded(entry, keep_alive)
    if not messages:
        # An empty conversation is Ollama's way to load (or, with keep_alive 0, unload) a model.
        message = {"role": "assistant", "content": ""}
        return json_reply(
            {"model": name, "created_at": now_rfc3339(), "message": message}
            | {"done": True, "done_reason": _load_reason(keep_alive)}
        )
    ctx.state.stats.record_images(images)
    plan = plan_chat(
        messages,
        tools=tools,
        format_=format_,
        think=think,
        limit=limit,
        echo_grounded=ctx.faults.echo_grounded,
    )
    timer = _Timer(ctx.started_ns)
    prompt_count = prompt_token_count(messages)
    hostile = ctx.faults.unknown_fields

    def chunk(fields: dict[str, Any], done: bool) -> dict[str, Any]:
        message = {"role": "assistant", "content": ""} | fields
        payload = {"model": name, "created_at": now_rfc3339(), "message": message, "done": done}
        if hostile:
            payload[UNKNOWN_FIELD] = message[UNKNOWN_FIELD] = UNKNOWN_VALUE
        return payload

    def final(fields: dict[str, Any]) -> dict[str, Any]:
        reason = "length" if plan.truncated else "stop"
        counts = timer.fields(prompt_count, plan.eval_count)
        return chunk(fields, True) | {"done_reason": reason} | counts

    def parts() -> Iterator[dict[str, Any]]:
        for token in plan.thinking:
            yield {"thinking": token}
        if plan.tool_call is not None:
            # Ollama sends a call whole, in one chunk, with its arguments as an object.
            yield {"tool_calls": [_call(plan.tool_call)]}
        for token in plan.content:
            yield {"content": token}

    if stream:

        def frames() -> Iterator[bytes]:
            for fields in parts():
                timer.token()
                yield OLLAMA.frame(chunk(fields, False))

        return StreamReply(
            OLLAMA,
            frames(),
            lambda: [OLLAMA.frame(final({}))],
            filler=lambda text: OLLAMA.frame(chunk({"content": text}, False)),
        )
    whole: dict[str, Any] = {"content": "".join(plan.content)}
    if plan.thinking:
        whole["thinking"] = "".join(plan.thinking)
    if plan.tool_call is not None:
        whole["tool_calls"] = [_call(plan.tool_call)]
    return WholeReply(OLLAMA, plan.units, lambda: final(whole))


def _call(call: ToolCall) -> dict[str, Any]:
    return {"function": {"name": call.name, "arguments": call.arguments}}


async def generate(ctx: RequestContext) -> Reply | StreamReply | WholeReply:
    body = ctx.json_object()
    name, entry = check.require_model(ctx, body, "generate")
    prompt = check.optional(body, "prompt", str, "a string") or ""
    stream = check.flag(body, "stream", default=True)
    options = check.optional(body, "options", dict, "an object") or {}
    limit = check.token_limit(options.get("num_predict"), "num_predict")
    context = check.optional(body, "context", list, "a list of integers") or []
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in context):
        raise HttpError(400, "context must be a list of integers")
    check.optional(body, "format", (str, dict), "a string or a JSON schema")
    keep_alive = check.keep_alive(body)
    ctx.state.mark_loaded(entry, keep_alive)
    if not prompt:
        return json_reply(
            {"model": name, "created_at": now_rfc3339(), "response": ""}
            | {"done": True, "done_reason": _load_reason(keep_alive)}
        )
    timer = _Timer(ctx.started_ns)
    tokens, truncated = check.limit_tokens(expected_generate_reply(prompt), limit)
    prompt_count = count_tokens(prompt)

    hostile = ctx.faults.unknown_fields

    def chunk(response: str, done: bool) -> dict[str, Any]:
        payload = {"model": name, "created_at": now_rfc3339(), "response": response, "done": done}
        if hostile:
            payload[UNKNOWN_FIELD] = UNKNOWN_VALUE
        return payload

    def final(response: str) -> dict[str, Any]:
        # Ollama hands back the conversation so far as token ids, to resume from later.
        history = [*context, *token_ids(split_tokens(prompt)), *token_ids(tokens)]
        reason = "length" if truncated else "stop"
        return (
            chunk(response, True)
            | {"done_reason": reason, "context": history}
            | timer.fields(prompt_count, len(tokens))
        )

    if stream:
        return _token_stream(tokens, timer, lambda t: chunk(t, False), lambda: final(""))
    return WholeReply(OLLAMA, len(tokens), lambda: final("".join(tokens)))


def _load_reason(keep_alive: timedelta | None) -> str:
    return "unload" if keep_alive is not None and not keep_alive else "load"


def _token_stream(
    tokens: list[str],
    timer: _Timer,
    chunk: Callable[[str], dict[str, Any]],
    final: Callable[[], dict[str, Any]],
) -> StreamReply:
    def frames() -> Iterator[bytes]:
        for token in tokens:
            timer.token()
            yield OLLAMA.frame(chunk(token))

    return StreamReply(
        OLLAMA,
        frames(),
        lambda: [OLLAMA.frame(final())],
        filler=lambda text: OLLAMA.frame(chunk(text)),
    )


async def embed(ctx: RequestContext) -> Reply | WholeReply:
    body = ctx.json_object()
    name, entry = check.require_model(ctx, body, "embeddings")
    inputs = check.text_inputs(body)
    size = check.dimensions(body, entry)
    check.optional(body, "truncate", bool, "a boolean")
    keep_alive = check.keep_alive(body)
    if not inputs:
        return json_reply({"model": name, "embeddings": []})
    ctx.state.mark_loaded(entry, keep_alive)
    timer = _Timer(ctx.started_ns)
    vectors = await ctx.state.embed(entry, inputs, size)

    def render() -> dict[str, Any]:
        timings = timer.fields(sum(count_tokens(text) for text in inputs), 0)
        return {
            "model": name,
            "embeddings": vectors,
            "total_duration": timings["total_duration"],
            "load_duration": timings["load_duration"],
            "prompt_eval_count": timings["prompt_eval_count"],
        }

    return WholeReply(OLLAMA, 0, render)


async def embeddings(ctx: RequestContext) -> Reply | WholeReply:
    """The legacy single-prompt endpoint that /api/embed replaced."""
    body = ctx.json_object()
    _, entry = check.require_model(ctx, body, "embeddings")
    prompt = check.optional(body, "prompt", str, "a string") or ""
    keep_alive = check.keep_alive(body)
    ctx.state.mark_loaded(entry, keep_alive)
    if not prompt:
        return json_reply({"embedding": []})
    [vector] = await ctx.state.embed(entry, [prompt], entry.dimensions)
    return WholeReply(OLLAMA, 0, lambda: {"embedding": vector})


# Management: answered plausibly so clients are satisfied, counted so tests can prove the
# gateway never lets a user reach them.

_PULL_STEPS = ("pulling manifest", "verifying sha256 digest", "writing manifest", "success")
_PUSH_STEPS = ("retrieving manifest", "pushing manifest", "success")
_CREATE_STEPS = ("reading model metadata", "writing manifest", "success")


async def pull(ctx: RequestContext) -> Reply:
    return _progress(ctx, _PULL_STEPS)


async def push(ctx: RequestContext) -> Reply:
    return _progress(ctx, _PUSH_STEPS)


async def create(ctx: RequestContext) -> Reply:
    return _progress(ctx, _CREATE_STEPS)


async def copy(ctx: RequestContext) -> Reply:
    body = ctx.json_object()
    source = body.get("source")
    if not isinstance(source, str) or ctx.state.catalog.resolve(source) is None:
        raise HttpError(404, f"model '{source}' not found")
    return Reply(200, b"")


async def delete(ctx: RequestContext) -> Reply:
    body = ctx.json_object()
    name = body.get("model") or body.get("name")
    if not isinstance(name, str) or ctx.state.catalog.resolve(name) is None:
        raise HttpError(404, f"model '{name}' not found")
    return Reply(200, b"")


async def blob(ctx: RequestContext) -> Reply:
    digest = ctx.params["digest"]
    if ctx.method == "HEAD":
        return Reply(200 if ctx.state.has_blob(digest) else 404, b"")
    actual = "sha256:" + hashlib.sha256(ctx.body).hexdigest()
    if actual != digest:
        raise HttpError(400, f'digest mismatch, expected "{digest}", got "{actual}"')
    ctx.state.add_blob(digest)
    return Reply(201, b"")


def _progress(ctx: RequestContext, steps: tuple[str, ...]) -> Reply:
    body = ctx.json_object()
    if check.flag(body, "stream", default=True):
        lines = b"".join(OLLAMA.frame({"status": step}) for step in steps)
        return Reply(200, lines, _NDJSON)
    return json_reply({"status": steps[-1]})
