"""Sends a handler's reply, injecting the faults in force for the request.

Streams go out one frame per content token; a non-streamed generation is treated as a
stream of `units` tokens that the client only sees at the end, so the same fault settings
mean the same thing on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from local.emulator.asgi import Connection, ConnectionDropped
from local.emulator.faults import HUGE_CHUNK_BYTES, BreakKind, Faults
from local.emulator.routing import AnyReply, Reply, StreamReply, WholeReply, json_reply
from local.emulator.state import EmulatorState
from local.emulator.stats import EmulatorStats, StreamOutcome
from local.emulator.wire import Dialect, dumps, error_payload

INJECTED_ERROR = "an error was encountered while running the model: emulated fault"
# What an endless stream keeps saying, and how fast when no token_delay is set.
ENDLESS_WORD = " more"
ENDLESS_TOKEN_DELAY = 0.005


async def deliver(conn: Connection, reply: AnyReply, faults: Faults, state: EmulatorState) -> None:
    if isinstance(reply, Reply):
        await conn.send_reply(reply)
    elif isinstance(reply, StreamReply):
        await _deliver_stream(conn, reply, faults, state)
    else:
        await _deliver_whole(conn, reply, faults, state)


class _Outcome:
    """Records a stream's end once. Endings the client can observe are recorded just before
    their last bytes go out, so a test that has read the end of a stream already sees it
    counted; only abandonment (noticed by the server later) needs `stats.wait_for`."""

    def __init__(self, stats: EmulatorStats) -> None:
        self._stats = stats
        self._recorded = False

    def record(self, outcome: StreamOutcome) -> None:
        if not self._recorded:
            self._recorded = True
            self._stats.stream_ended(outcome)


async def _deliver_stream(
    conn: Connection, reply: StreamReply, faults: Faults, state: EmulatorState
) -> None:
    dialect = reply.dialect
    brk = faults.first_break()
    filler = reply.filler
    huge_at = faults.huge_chunk_after if filler is not None else None
    endless = faults.endless and filler is not None
    deadline = time.monotonic() + state.config.stall_max_seconds
    await conn.start(200, dialect.media_type)
    state.stats.stream_started()
    outcome = _Outcome(state.stats)
    try:
        sent = 0
        for frame, extra in _frames(reply, endless):
            if huge_at == sent and filler is not None:
                huge_at = None
                # An extra line, not counted: other faults' thresholds keep their meaning.
                await conn.write(filler("x" * HUGE_CHUNK_BYTES))
            if brk is not None and brk[1] == sent:
                await _break_stream(conn, brk[0], dialect, frame, state, outcome)
                return
            delay = max(faults.token_delay, ENDLESS_TOKEN_DELAY if extra else 0.0)
            if delay and await conn.pause(delay) != "elapsed":
                _raise_if_closing(state)
                return
            if conn.gone:
                return
            if extra and time.monotonic() > deadline:
                outcome.record("faulted")
                raise ConnectionDropped("endless stream reached its time cap")
            await conn.write(frame)
            sent += 1
        if huge_at == sent and filler is not None:
            await conn.write(filler("x" * HUGE_CHUNK_BYTES))
        tail = reply.tail()
        if brk is not None and brk[1] == sent:
            await _break_stream(conn, brk[0], dialect, tail[0], state, outcome)
            return
        if conn.gone:
            return
        outcome.record("completed")
        await conn.finish(b"".join(tail))
    finally:
        # Whatever left early without saying otherwise (the client hanging up, cancellation,
        # server shutdown) means the stream never reached its end.
        outcome.record("abandoned")


def _frames(reply: StreamReply, endless: bool) -> Iterator[tuple[bytes, bool]]:
    """The reply's frames, then (endless) filler tokens for ever; True marks the filler."""
    for frame in reply.frames:
        yield frame, False
    if endless and reply.filler is not None:
        filler = reply.filler(ENDLESS_WORD)
        while True:
            yield filler, True


async def _break_stream(
    conn: Connection,
    kind: BreakKind,
    dialect: Dialect,
    next_frame: bytes,
    state: EmulatorState,
    outcome: _Outcome,
) -> None:
    if kind == "stall":
        if await conn.pause(state.config.stall_max_seconds) == "gone":
            return
        kind = "reset"  # A stall that outlives its bound ends like a dead upstream.
    outcome.record("faulted")
    if kind == "reset":
        raise ConnectionDropped("emulated connection reset")
    if kind == "error":
        await conn.finish(dialect.error_frame(INJECTED_ERROR))
    else:
        await conn.finish(dialect.torn_frame(next_frame))


async def _deliver_whole(
    conn: Connection, reply: WholeReply, faults: Faults, state: EmulatorState
) -> None:
    if faults.endless:
        # A reply that never ends, unstreamed, is one that never arrives.
        brk: tuple[BreakKind, int] | None = ("stall", 0)
    else:
        brk = faults.first_break()
    fires = brk is not None and brk[1] <= reply.units
    units_before_break = brk[1] if brk is not None and fires else reply.units
    # Even a zero-token reply (embeddings) takes one token's time, so latency is testable.
    delay = faults.token_delay * max(units_before_break, 1)
    if delay and await conn.pause(delay) != "elapsed":
        _raise_if_closing(state)
        return
    if brk is None or not fires:
        await conn.send_reply(json_reply(reply.render()))
        return
    kind = brk[0]
    if kind == "stall":
        if await conn.pause(state.config.stall_max_seconds) == "gone":
            return
        kind = "reset"
    if kind == "reset":
        body = dumps(reply.render())
        # Promise the whole body, deliver half: the client sees the transfer break.
        await conn.start(200, "application/json; charset=utf-8", content_length=len(body))
        await conn.write(body[: len(body) // 2])
        raise ConnectionDropped("emulated connection reset")
    if kind == "error":
        await conn.send_reply(
            json_reply(error_payload(reply.dialect.flavor, 500, INJECTED_ERROR), 500)
        )
        return
    body = dumps(reply.render())
    await conn.send_reply(Reply(200, body[: len(body) // 2]))


def _raise_if_closing(state: EmulatorState) -> None:
    if state.closing.is_set():
        raise ConnectionDropped("emulator shutting down")
