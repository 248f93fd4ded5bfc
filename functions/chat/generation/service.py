"""Starting a generation: model, translation, the chat turn, the upstream and admission.

Order matters. Everything that can refuse the request without touching the model host comes
first: the model must exist and be allowed (404), the body must translate (400), and a
``chat_id`` must belong to the caller (404, and no upstream call: matrix row 1). The registry's
admission (limits, registration, an early stop) starts first of all and runs beside those
steps; the upstream request waits for it, so a refused request never reaches the model host
(matrix row 34) and never wakes a sleeping one (row 36).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import aiohttp

from functions.chat.generation.answer import Answer
from functions.chat.generation.grounding import ground
from functions.chat.generation.outcome import Ending, Outcome
from functions.chat.generation.refusals import RecentRefusals
from functions.chat.generation.registry import Admission, GenerationRegistry, refusal
from functions.chat.generation.relay import (
    GenerationContext,
    GenerationResponse,
    PendingHost,
    Persistence,
    Reporter,
    Turn,
)
from functions.chat.generation.replay import replay_response
from functions.chat.generation.report import limit_hit
from functions.chat.generation.turns import ReplayTurnError, TurnKeeper
from functions.chat.generation.wire import SSEWire, Wire
from functions.chat.schemas.openai import ChatCompletionRequest
from functions.chat.translate import (
    OllamaChatStream,
    OpenAIChatStream,
    UpstreamStreamError,
    ollama_chat_body,
    openai_chat_body,
)
from functions.chat.translate.usage_estimate import request_prompt_tokens
from stratus.auth.principal import Principal
from stratus.errors import (
    ModelHostUnavailableError,
    RateLimitedError,
    ServiceUnavailableError,
    StratusError,
)
from stratus.modelhost import ModelChoice, ModelHost, get_model_host, host_metrics
from stratus.modelhost.http import UNAVAILABLE_RETRY_AFTER
from stratus.modelhost.lines import LineLimits, StreamLimitError, UpstreamClosedError, UpstreamLines
from stratus.modelhost.waker import Waker
from stratus.observability import get_logger
from stratus.settings import ChatSettings, model_host_settings

_encode = msgspec.json.Encoder().encode

TASK_HEADER = b"x-stratus-task-id"
MESSAGE_HEADER = b"x-stratus-message-id"
USER_MESSAGE_HEADER = b"x-stratus-user-message-id"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    received_at_ms: int
    lambda_deadline: float | None


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything a generation needs once the request is known to be acceptable."""

    principal: Principal
    choice: ModelChoice
    path: str
    body: bytes
    translator: Any
    wire: Wire
    model_name: str
    stream: bool
    include_usage: bool
    task_id: str
    turn: Turn | None
    info: RequestInfo
    translator_errors: tuple[type[Exception], ...]
    # The turn's insert, still running: it overlaps the upstream request (``turn`` once done).
    beginning: asyncio.Task[Turn] | None = None


class GenerationService:
    def __init__(
        self,
        turns: TurnKeeper,
        persistence: Persistence,
        registry: GenerationRegistry,
        report: Reporter,
        settings: ChatSettings,
    ) -> None:
        self.turns = turns
        self.persistence = persistence
        self.registry = registry
        self.report = report
        self.settings = settings
        self.refusals = RecentRefusals()

    async def start(
        self, principal: Principal, req: ChatCompletionRequest, info: RequestInfo
    ) -> Answer:
        """An OpenAI chat completion, streamed or not, optionally saved as a chat turn."""
        self.refusals.check(principal.user_id)
        task_id = uuid.uuid4().hex
        # Admission needs only who is asking: it starts now, so its round trip overlaps the
        # model lookup, the turn's insert and the upstream's first output.
        admitting = asyncio.create_task(self._admit(principal, task_id, req.chat_id, info))
        try:
            # Let it send its request before the CPU work below: it is the longest step before
            # the upstream request (a DynamoDB round trip), and nothing else here waits on I/O
            # until the chat's ownership check.
            await asyncio.sleep(0)
            host = await get_model_host()
            choice = await host.resolve(req.model, principal)
            created = int(time.time())
            model_req, sources = (await ground(principal, req)) if req.files else (req, None)
            path, body, translator = self._translate(host, choice, model_req, task_id, created)
            translator.sources = sources
            translator.prompt_estimate = request_prompt_tokens(model_req)
            turn, beginning = None, None
            if req.chat_id:
                plan = await self.turns.check(principal, req)
                if plan.seen or req.id:
                    # The client's id is the turn's idempotency key, and the insert reserves it:
                    # a retry (seen before, or sent at the same moment as this request) is
                    # settled before anything reaches the model host. The insert still runs
                    # beside the admission's round trip.
                    try:
                        turn = await self.turns.begin(principal, req, task_id, plan)
                    except ReplayTurnError as replay:
                        await self._withdraw(principal, task_id, admitting)
                        return replay_response(req, replay, created)
                else:
                    # Ownership is settled and nothing can conflict: the insert runs while the
                    # upstream request opens.
                    beginning = asyncio.create_task(self.turns.begin(principal, req, task_id, plan))
        except BaseException:
            await self._withdraw(principal, task_id, admitting)
            raise
        try:
            return await self.launch(
                Launch(
                    principal=principal,
                    choice=choice,
                    path=path,
                    body=_encode(body),
                    translator=translator,
                    wire=SSEWire(),
                    # The catalog's id, not the client's spelling: metrics and logs name one
                    # model one way (GpuScalingModel watches that series).
                    model_name=choice.model.id,
                    stream=bool(req.stream),
                    include_usage=bool(req.stream_options and req.stream_options.include_usage),
                    task_id=task_id,
                    turn=turn,
                    info=info,
                    translator_errors=(UpstreamStreamError,),
                    beginning=beginning,
                ),
                admitting,
            )
        except ReplayTurnError as replay:  # a concurrent retry recorded the same turn first
            return replay_response(req, replay, created)

    async def _withdraw(
        self, principal: Principal, task_id: str, admitting: asyncio.Task[Admission]
    ) -> None:
        """The request ended before its generation started: unregister it, if it was."""
        admission = await asyncio.gather(admitting, return_exceptions=True)
        if isinstance(admission[0], Admission) and admission[0].allowed:
            try:
                await self.registry.finish(principal.user_id, task_id, 0, admission[0])
            except ServiceUnavailableError:
                get_logger().warning("registry clean-up failed", extra={"task_id": task_id})

    async def launch(
        self, spec: Launch, admitting: asyncio.Task[Admission] | None = None
    ) -> GenerationResponse:
        """Wait for the registry to admit the generation (``admitting``, if the caller started
        it already), then open the upstream, wait for its first output and relay."""
        # TTFT and duration count from here: the wait for the model's first output is in them.
        started = time.perf_counter()
        if admitting is None:
            self.refusals.check(spec.principal.user_id)
            chat_id = spec.turn.chat_id if spec.turn else None
            admitting = asyncio.create_task(
                self._admit(spec.principal, spec.task_id, chat_id, spec.info)
            )
        host = await get_model_host()
        resources = AsyncExitStack()

        async def open_upstream() -> tuple[aiohttp.ClientResponse, UpstreamLines]:
            host_metrics.inference_request()
            upstream = await resources.enter_async_context(
                host.http.open(
                    spec.choice.upstream,
                    "POST",
                    spec.path,
                    body=spec.body,
                    first_byte_timeout=self.settings.first_byte_timeout,
                )
            )
            return upstream, await self._first_lines(upstream, spec)

        try:
            admission = await admitting
            if not admission.allowed:
                limit_hit(spec.model_name, admission.reason or "requests")
                refused = refusal(admission)
                self.refusals.remember(spec.principal.user_id, refused)
                raise refused
            # Admitted: from here on this request may wake a sleeping host (matrix row 36).
            opening = asyncio.create_task(self._open(host, spec, open_upstream, resources))
            if spec.beginning is not None:
                try:
                    spec = replace(spec, turn=await spec.beginning, beginning=None)
                except BaseException:
                    opening.cancel()
                    await asyncio.gather(opening, return_exceptions=True)
                    raise
            upstream, lines, pending = await opening
        except BaseException as exc:
            spec = await _settled(spec)
            await resources.aclose()
            await self._abandon(spec, exc)
            raise
        ctx = GenerationContext(
            user_id=spec.principal.user_id,
            task_id=spec.task_id,
            model=spec.model_name,
            upstream_kind=spec.choice.upstream.kind,
            stream=spec.stream,
            include_usage=spec.include_usage,
            requested_at_ms=spec.info.received_at_ms,
            deadline=spec.info.lambda_deadline,
            turn=spec.turn,
            admission=admission,
            translator_errors=spec.translator_errors,
            started=started,
        )
        return GenerationResponse(
            ctx,
            spec.translator,
            upstream,
            lines,
            resources,
            registry=self.registry,
            persistence=self.persistence,
            report=self.report,
            settings=self.settings,
            extra_headers=_headers(spec.task_id, spec.turn),
            wire=spec.wire,
            pending=pending,
        )

    async def _open(
        self,
        host: ModelHost,
        spec: Launch,
        open_upstream: Callable[[], Awaitable[tuple[aiohttp.ClientResponse, UpstreamLines]]],
        resources: AsyncExitStack,
    ) -> tuple[aiohttp.ClientResponse | None, UpstreamLines | None, PendingHost | None]:
        """The upstream opened and answering; or, for a host that sleeps or wakes, a stream
        held with heartbeats (``PendingHost``), or a short hold and one more try."""
        waker = host.waker_for(spec.choice.upstream)
        holds_stream = waker is not None and spec.stream and bool(spec.wire.heartbeat)
        if waker is not None and waker.waking and holds_stream:
            return None, None, self._pending(host, waker, spec, open_upstream)
        try:
            upstream, lines = await open_upstream()
        except ModelHostUnavailableError:
            await resources.aclose()
            if waker is None or await waker.hold_state() is None:
                raise
            if holds_stream:
                return None, None, self._pending(host, waker, spec, open_upstream)
            await host.hold(waker, host.host_settings.hold_seconds)
            upstream, lines = await open_upstream()
        return upstream, lines, None

    @staticmethod
    def _pending(
        host: ModelHost,
        waker: Waker,
        spec: Launch,
        open_upstream: Callable[[], Awaitable[tuple[aiohttp.ClientResponse, UpstreamLines]]],
    ) -> PendingHost:
        """A streamed completion for a host that wakes: the stream starts now and is held
        (``STRATUS_MODEL_HOST_WAKE_HOLD_SECONDS``); its prompt costs nothing until it is sent."""
        settings = host.host_settings
        estimate = spec.translator.prompt_estimate
        spec.translator.prompt_estimate = 0
        return PendingHost(
            wait_awake=lambda: waker.wait_awake(settings.wake_hold_seconds),
            open=open_upstream,
            heartbeat_seconds=settings.heartbeat_seconds,
            prompt_estimate=estimate,
        )

    def _translate(
        self,
        host: ModelHost,
        choice: ModelChoice,
        req: ChatCompletionRequest,
        task_id: str,
        created: int,
    ) -> tuple[str, dict[str, Any], Any]:
        model_id = choice.model.id
        completion_id = f"chatcmpl-{task_id}"
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        if choice.upstream.kind == "ollama":
            body = ollama_chat_body(
                req,
                upstream_model=model_id,
                num_ctx=host.num_ctx(model_id),
                keep_alive=host.keep_alive(model_id),
            )
            translator: Any = OllamaChatStream(
                completion_id=completion_id,
                created=created,
                model=req.model,
                tools_sent=bool(req.tools),
                include_usage=include_usage,
                max_line_bytes=self.settings.max_line_bytes,
                max_response_bytes=self.settings.max_response_bytes,
            )
            return "/api/chat", body, translator
        body = openai_chat_body(req, upstream_model=model_id)
        translator = OpenAIChatStream(
            completion_id=completion_id,
            created=created,
            model=req.model,
            tools_sent=bool(req.tools),
            include_usage=include_usage,
            max_line_bytes=self.settings.max_line_bytes,
            max_response_bytes=self.settings.max_response_bytes,
        )
        return "/chat/completions", body, translator

    async def _first_lines(self, upstream: aiohttp.ClientResponse, spec: Launch) -> UpstreamLines:
        """Wait for the model's first output before answering: a host that never starts is a
        503 before the stream, not a stream that fails."""
        first_byte = self.settings.first_byte_timeout
        if spec.info.lambda_deadline is not None:
            left = spec.info.lambda_deadline - self.settings.deadline_margin - time.time()
            first_byte = max(0.05, min(first_byte, left))
        lines = UpstreamLines(
            upstream,
            LineLimits(
                first_byte_timeout=first_byte,
                idle_timeout=model_host_settings().read_timeout,
                max_line=self.settings.max_line_bytes,
                max_total=self.settings.max_response_bytes,
            ),
        )
        try:
            await lines.prime()
        except StreamLimitError:
            raise ModelHostUnavailableError(
                "The model host did not start answering in time; try again shortly.",
                retry_after=UNAVAILABLE_RETRY_AFTER,
            ) from None
        except UpstreamClosedError:
            raise ModelHostUnavailableError(
                "The model host closed the connection before answering; try again shortly.",
                retry_after=UNAVAILABLE_RETRY_AFTER,
            ) from None
        return lines

    async def _admit(
        self, principal: Principal, task_id: str, chat_id: str | None, info: RequestInfo
    ) -> Admission:
        enforce = not (principal.is_admin and self.settings.limits_exempt_admins)
        try:
            return await self.registry.start(
                principal.user_id,
                task_id,
                chat_id,
                enforce_limits=enforce,
                requested_at_ms=info.received_at_ms,
            )
        except ServiceUnavailableError:
            # Availability first: without the shared state store the generation runs without
            # limits and can only be stopped by disconnecting. Logged, and counted.
            get_logger().warning(
                "generation admitted without the registry", extra={"task_id": task_id}
            )
            return Admission(True)

    async def _abandon(self, spec: Launch, exc: BaseException) -> None:
        """The request fails before streaming: a refused turn leaves nothing behind; a turn the
        model host failed keeps the user's message and an assistant message saying why."""
        turn = spec.turn
        if turn is not None:
            if isinstance(exc, RateLimitedError):
                await self.turns.discard(turn, spec.principal.user_id)
            else:
                message = exc.message if isinstance(exc, StratusError) else "The request failed."
                outcome = Outcome(Ending.ERROR, message)
                await self.persistence.finish(turn, spec.translator, outcome)
        if isinstance(exc, RateLimitedError):
            return  # the registry gave the refused request back itself
        try:
            await self.registry.finish(spec.principal.user_id, spec.task_id, 0, Admission(True))
        except ServiceUnavailableError:
            get_logger().warning("registry clean-up failed", extra={"task_id": spec.task_id})


async def _settled(spec: Launch) -> Launch:
    """``spec`` with its turn, once the insert that was still running has ended."""
    if spec.beginning is None:
        return spec
    (begun,) = await asyncio.gather(spec.beginning, return_exceptions=True)
    return replace(spec, turn=begun if isinstance(begun, Turn) else None, beginning=None)


def _headers(task_id: str, turn: Turn | None) -> list[tuple[bytes, bytes]]:
    headers = [(TASK_HEADER, task_id.encode())]
    if turn is not None:
        headers.append((MESSAGE_HEADER, turn.assistant_message_id.encode()))
        if turn.user_message_id:
            headers.append((USER_MESSAGE_HEADER, turn.user_message_id.encode()))
    return headers


__all__ = ["GenerationService", "RequestInfo", "UpstreamStreamError"]
