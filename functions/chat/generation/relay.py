"""The running generation: relays upstream tokens while stop, disconnect and time are watched.

Three watchers run beside the relay and never block it: the stop watcher waits on the
registry's per-instance poller (one strongly consistent read of every running generation's
flags each ``STRATUS_CHAT_POLL_INTERVAL``), the disconnect watcher waits
for the client to leave, and the deadline timer fires before Lambda's time (or the generation
cap) runs out. Whichever ends first decides the ``Ending``; closing the upstream connection
is what makes Ollama stop using the GPU.

Client disconnect policy: a turn saved into a chat (``chat_id``) runs to completion and is
saved; a bare API call closes the upstream at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from functions.chat.generation.answer import Answer
from functions.chat.generation.outcome import FINISH_REASON, Ending, Outcome
from functions.chat.generation.registry import Admission, GenerationRegistry
from functions.chat.generation.wire import Wire
from stratus.errors import StratusError
from stratus.modelhost.lines import StreamLimitError, UpstreamClosedError, UpstreamLines
from stratus.observability import get_logger
from stratus.settings import ChatSettings
from stratus.web.error_mapper import ErrorInfo, error_body

if TYPE_CHECKING:
    import aiohttp
    from litestar.types import Message, Receive, Scope, Send

_encode = msgspec.json.Encoder().encode


class ChunkTranslator(Protocol):
    """``functions.chat.translate``'s stream translators, as the relay uses them."""

    content: str
    reasoning: str
    tool_calls: list[dict[str, Any]]
    finish_reason: str | None
    done: bool
    prompt_estimate: int
    # The counts were estimated from what was relayed: the upstream never reported them.
    usage_estimated: bool

    def feed(self, data: bytes) -> list[Any]: ...
    def usage(self) -> dict[str, int]: ...


class StreamError(Exception):
    """Raised by translators for an upstream that errs or lies; the message is client-safe."""


@dataclass
class Turn:
    """The chat turn this generation saves into, when the request named a ``chat_id``."""

    chat_id: str
    assistant_message_id: str
    user_message_id: str | None


@dataclass
class GenerationContext:
    user_id: str
    task_id: str
    model: str
    upstream_kind: str
    stream: bool
    include_usage: bool
    requested_at_ms: int
    deadline: float | None  # epoch seconds (Lambda) or None
    turn: Turn | None
    admission: Admission
    translator_errors: tuple[type[Exception], ...]
    started: float = field(default_factory=time.perf_counter)


class Persistence(Protocol):
    async def checkpoint(self, turn: Turn, content: str, reasoning: str) -> None: ...
    async def finish(self, turn: Turn, translator: ChunkTranslator, outcome: Outcome) -> None: ...


class Reporter(Protocol):
    def __call__(
        self,
        ctx: GenerationContext,
        translator: ChunkTranslator,
        outcome: Outcome,
        ttft: float | None,
    ) -> None: ...


@dataclass
class PendingHost:
    """A model host that is waking (scale-to-zero). The stream starts at once; the relay holds
    it with heartbeats (SSE comments, at least every ``heartbeat_seconds``) until the host
    answers or the hold ends, then opens the upstream and relays as usual."""

    wait_awake: Callable[[], Coroutine[Any, Any, bool]]
    open: Callable[[], Awaitable[tuple[aiohttp.ClientResponse, UpstreamLines]]]
    heartbeat_seconds: float
    # Applied once the upstream has the prompt: a stop while held costs nothing.
    prompt_estimate: int


class GenerationResponse(Answer):
    """An ASGI response: the handler has been admitted and opened the upstream, or is waiting
    for a model host that wakes (``pending``)."""

    def __init__(
        self,
        ctx: GenerationContext,
        translator: ChunkTranslator,
        upstream: aiohttp.ClientResponse | None,
        lines: UpstreamLines | None,
        resources: AsyncExitStack,
        *,
        registry: GenerationRegistry,
        persistence: Persistence,
        report: Reporter,
        settings: ChatSettings,
        extra_headers: list[tuple[bytes, bytes]],
        wire: Wire,
        pending: PendingHost | None = None,
    ) -> None:
        self.ctx = ctx
        self.translator = translator
        self.upstream = upstream
        self.lines = lines
        self.pending = pending
        self.resources = resources
        self.registry = registry
        self.persistence = persistence
        self.report = report
        self.settings = settings
        self.extra_headers = extra_headers
        self.wire = wire
        self._client_gone = False
        self._first_token_at: float | None = None
        self._send: Send | None = None
        self._path = ""
        self._next_checkpoint = 0.0
        self._checkpointing: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._send = send
        self._path = scope["path"]
        wire = self.wire
        async with self.resources:
            if self.ctx.stream:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*wire.headers, *self.extra_headers],
                    }
                )
            outcome = await self._generate(receive)
            # The outcome is saved even if this task is being cancelled (the server shutting
            # down, say): nothing the user saw may be lost.
            await asyncio.shield(self._conclude(outcome))

    # -- the race between relay and watchers ----------------------------------------------

    async def _generate(self, receive: Receive) -> Outcome:
        if self.ctx.admission.stopped:
            return Outcome(Ending.CANCELLED)
        loop = asyncio.get_running_loop()
        # One deadline for the whole stream: the wait below times out at it.
        deadline = loop.time() + self._time_left()
        relay = asyncio.create_task(self._relay())
        stop = asyncio.create_task(self._watch_stop())
        disconnect = asyncio.create_task(self._watch_disconnect(receive))
        pending: set[asyncio.Task[Any]] = {relay, stop, disconnect}
        try:
            while True:
                done, pending = await asyncio.wait(
                    pending,
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if relay in done:
                    return relay.result()
                if stop in done:
                    return Outcome(Ending.CANCELLED)
                if not done:
                    return Outcome(Ending.INTERRUPTED)
                if disconnect in done:
                    self._client_gone = True
                    if self.ctx.turn is None:
                        return Outcome(Ending.CANCELLED)
                    # A chat turn runs on without its reader and is saved.
        finally:
            for task in pending:
                task.cancel()
            # Closing the connection is what stops the model on the GPU.
            if self.upstream is not None:
                self.upstream.close()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _relay(self) -> Outcome:
        if self.lines is None:
            failed = await self._wait_for_host()
            if failed is not None:
                return failed
        assert self.lines is not None
        ctx, translator = self.ctx, self.translator
        openai = ctx.upstream_kind == "openai"
        loop = asyncio.get_running_loop()
        self._next_checkpoint = loop.time() + self.settings.checkpoint_interval
        try:
            async for batch in self.lines:
                if translator.done:
                    # Anything after the end is ignored; the connection is closed, not reused.
                    return Outcome(Ending.COMPLETE)
                chunks: list[dict[str, Any]] = []
                try:
                    for line in batch:
                        if openai:
                            if not line.startswith(b"data:"):
                                continue  # SSE comments and event names carry nothing we relay
                            # "[DONE]" included: it is what tells the translator the answer ended.
                            line = line[5:].strip()
                        chunks.extend(translator.feed(line))
                        if translator.done:
                            break
                except ctx.translator_errors:
                    # Lines that came in the same read as the bad one are already in the
                    # translator's text (and so in the saved answer): the client gets them too.
                    await self._relay_chunks(chunks)
                    raise
                await self._relay_chunks(chunks)
                if ctx.turn is not None and loop.time() >= self._next_checkpoint:
                    self._checkpoint(loop.time())
        except ctx.translator_errors as exc:
            return Outcome(Ending.ERROR, str(exc), "upstream_error")
        except StreamLimitError as exc:
            return Outcome(Ending.ERROR, str(exc), "upstream_error")
        except UpstreamClosedError:
            if translator.done:
                return Outcome(Ending.COMPLETE)
            return Outcome(
                Ending.ERROR, "The model host closed the connection mid-answer.", "upstream_error"
            )
        # Read to the end of the body after the last line, so the connection can be reused.
        if translator.done:
            return Outcome(Ending.COMPLETE)
        return Outcome(
            Ending.ERROR, "The model host ended the answer without finishing it.", "upstream_error"
        )

    async def _wait_for_host(self) -> Outcome | None:
        """Hold the started stream while the model host wakes; None once the upstream is open.
        A stop or a hang-up meanwhile ends this task like any relay (nothing half-made)."""
        pending = self.pending
        assert pending is not None
        waiting = asyncio.create_task(pending.wait_awake())
        try:
            while True:
                await self._emit(self.wire.heartbeat)
                done, _ = await asyncio.wait({waiting}, timeout=pending.heartbeat_seconds)
                if done:
                    break
        finally:
            waiting.cancel()  # the wake itself goes on for the other requests that wait
        if waiting.cancelled() or not waiting.result():
            return Outcome(
                Ending.ERROR,
                "The model host did not start in time; try again shortly.",
                "model_host_starting",
            )
        try:
            self.upstream, self.lines = await pending.open()
        except StratusError as exc:
            return Outcome(Ending.ERROR, exc.message, exc.code or "upstream_error")
        self.translator.prompt_estimate = pending.prompt_estimate
        return None

    async def _watch_stop(self) -> None:
        # This instance's poller reads every running generation's flags in one call.
        ctx = self.ctx
        chat_id = ctx.turn.chat_id if ctx.turn else None
        await self.registry.stopped(ctx.user_id, ctx.task_id, chat_id, ctx.requested_at_ms)

    def _time_left(self) -> float:
        """Seconds until the answer must end: ``STRATUS_CHAT_MAX_SECONDS`` after the request, or
        the margin before Lambda's deadline, whichever comes first."""
        budget = self.settings.max_generation_seconds - (time.perf_counter() - self.ctx.started)
        if self.ctx.deadline is not None:
            budget = min(budget, self.ctx.deadline - self.settings.deadline_margin - time.time())
        return max(0.0, budget)

    @staticmethod
    async def _watch_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    # -- output and persistence -------------------------------------------------------------

    async def _relay_chunks(self, chunks: list[dict[str, Any]]) -> None:
        if chunks:
            if self._first_token_at is None:
                self._first_token_at = time.perf_counter()
            await self._emit(self.wire.encode(chunks))

    async def _emit(self, body: bytes) -> None:
        if self.ctx.stream and not self._client_gone and self._send is not None:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})

    def _checkpoint(self, now: float) -> None:
        self._next_checkpoint = now + self.settings.checkpoint_interval
        if self._checkpointing is not None and not self._checkpointing.done():
            return  # the previous one is still writing; the next will carry more text
        turn = self.ctx.turn
        assert turn is not None
        content, reasoning = self.translator.content, self.translator.reasoning
        self._checkpointing = asyncio.create_task(
            _quietly(self.persistence.checkpoint(turn, content, reasoning), "checkpoint failed")
        )

    async def _conclude(self, outcome: Outcome) -> None:
        """A stream's answer ends first (``[DONE]``); then the turn's final save and the
        registry's finish run together, and only then does the response end: the Lambda Web
        Adapter freezes the process when it does, and no write may be pending then. A whole
        (non-streamed) answer is sent once it is saved, so a client that reads the chat back
        after it finds it as answered."""
        ctx, translator = self.ctx, self.translator
        send = self._send
        assert send is not None
        if ctx.stream and outcome.ending is Ending.ERROR:
            await self._emit(
                self.wire.error(outcome.error or "The model host failed.", outcome.error_code)
            )
        elif ctx.stream:
            closing = self.wire.closing(outcome.ending, translator, ctx.include_usage)
            await self._emit(closing + self.wire.tail(outcome.ending))
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        tokens = translator.usage().get("total_tokens", 0)
        writes = [
            _quietly(
                self.registry.finish(ctx.user_id, ctx.task_id, tokens, ctx.admission),
                "registry finish failed",
            )
        ]
        if ctx.turn is not None:
            writes.append(
                _quietly(self.persistence.finish(ctx.turn, translator, outcome), "saving failed")
            )
        await asyncio.gather(*writes)
        ttft = None
        if self._first_token_at is not None:
            ttft = self._first_token_at - ctx.started
        self.report(ctx, translator, outcome, ttft)
        if ctx.stream:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            await self._send_whole(send, outcome)

    async def _send_whole(self, send: Send, outcome: Outcome) -> None:
        from functions.chat.translate import completion_object

        if outcome.ending is Ending.ERROR:
            status = 502
            info = ErrorInfo(
                502,
                outcome.error or "The model host failed.",
                "upstream_error",
                None,
                outcome.error_code,
            )
            body: dict[str, Any] = error_body(self._path, info)
        else:
            status = 200
            reason = FINISH_REASON.get(outcome.ending)
            body = completion_object(self.translator, finish_reason=reason)  # type: ignore[arg-type]
        payload = _encode(body)
        message: Message = {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *self.extra_headers,
            ],
        }
        await send(message)
        await send({"type": "http.response.body", "body": payload, "more_body": False})


async def _quietly(work: Awaitable[None], what: str) -> None:
    """Run ``work``; log a failure instead of raising (the client's stream must end cleanly)."""
    try:
        await work
    except Exception:  # logged with its traceback; nothing else to do here
        get_logger().exception(what)
