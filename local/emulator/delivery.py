"""Sends a handler's reply, injecting the faults in force for the request.

Streams go out one frame per content token; a non-streamed generation is treated as a
stream of `units` tokens that the client only sees at the end, so the same fault settings
mean the same thing on both.
"""

from __future__ import annotations

from local.emulator.asgi import Connection, ConnectionDropped
from local.emulator.faults import BreakKind, Faults
from local.emulator.routing import AnyReply, Reply, StreamReply, WholeReply, json_reply
from local.emulator.state import EmulatorState
from local.emulator.stats import EmulatorStats, StreamOutcome
from local.emulator.wire import Dialect, dumps, error_payload

INJECTED_ERROR = "an error was encountered while running the model: emulated fault"


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
    await conn.start(200, dialect.media_type)
    state.stats.stream_started()
    outcome = _Outcome(state.stats)
    try:
        sent = 0
        for frame in reply.frames:
            if brk is not None and brk[1] == sent:
                await _break_stream(conn, brk[0], dialect, frame, state, outcome)
                return
            if faults.token_delay and await conn.pause(faults.token_delay) != "elapsed":
                _raise_if_closing(state)
                return
            if conn.gone:
                return
            await conn.write(frame)
            sent += 1
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
