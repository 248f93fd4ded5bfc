"""The read caps of an upstream body (``stratus.modelhost.lines``), against a real HTTP server on
loopback: a host that goes quiet is cut at the idle timeout (and one that never starts, at the
first-byte timeout), while a consumer that is slow between reads (a slow client) never is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from stratus.modelhost.lines import LineLimits, StreamLimitError, iter_line_batches

pytestmark = pytest.mark.anyio

IDLE = 0.3
# A model's first token may take far longer than the gap between tokens (a model load).
LIMITS = LineLimits(first_byte_timeout=10.0, idle_timeout=IDLE, max_line=1024, max_total=1 << 20)
QUICK_START = LineLimits(first_byte_timeout=IDLE, idle_timeout=10.0, max_line=1024, max_total=1024)


async def _lines(request: web.Request) -> web.StreamResponse:
    """Three lines, ``gap`` seconds apart; ``stall_after`` lines, then silence."""
    gap = float(request.query.get("gap", "0"))
    stall_after = int(request.query.get("stall_after", "-1"))
    response = web.StreamResponse()
    await response.prepare(request)
    for n in range(3):
        if n == stall_after:
            await asyncio.sleep(30)
        await response.write(b'{"n": %d}\n' % n)
        await asyncio.sleep(gap)
    await response.write_eof()
    return response


@pytest.fixture
async def host() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/lines", _lines)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/lines"
    finally:
        await runner.cleanup()


async def _read(url: str, pause: float = 0.0, limits: LineLimits = LIMITS) -> list[bytes]:
    got: list[bytes] = []
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        async for batch in iter_line_batches(response, limits):
            got.extend(batch)
            await asyncio.sleep(pause)
    return got


async def test_every_line_arrives(host: str):
    assert await _read(host + "?gap=0.05") == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


async def test_a_slow_consumer_is_not_a_quiet_host(host: str):
    # Each pause is twice the idle timeout; the host had sent the next line long before.
    lines = await _read(host + "?gap=0.01", pause=2 * IDLE)
    assert lines == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


@pytest.mark.parametrize(
    ("stall_after", "limits"),
    [(0, QUICK_START), (1, LIMITS), (2, LIMITS)],
    ids=["before-the-first-byte", "after-the-first-line", "mid-stream"],
)
async def test_a_quiet_host_is_cut_at_its_timeout(host: str, stall_after: int, limits: LineLimits):
    started = time.monotonic()
    with pytest.raises(StreamLimitError, match="timed out"):
        await _read(host + f"?stall_after={stall_after}&gap=0.05", limits=limits)
    # Cut at the 0.3 s timeout that applied, not the other one's 10 s.
    assert time.monotonic() - started < 3
