"""The instance's stop poller: one read per interval for every watched generation, in a
context of its own."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from functions.chat.generation.stop_watch import StopWatch, Watch

pytestmark = pytest.mark.anyio

request_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="")


async def test_the_poller_does_not_run_in_the_context_of_the_request_that_started_it() -> None:
    # GIVEN a request whose context carries its own values (its trace span, its log keys)
    seen: list[tuple[str, int]] = []
    stopped: set[Watch] = set()

    async def read(watches: list[Watch]) -> set[Watch]:
        seen.append((request_var.get(), len(watches)))
        return stopped & set(watches)

    watch = StopWatch(read, interval=0.01)
    first, second = Watch("u", "t1", None, 0), Watch("u", "t2", None, 0)

    async def request(w: Watch, name: str) -> None:
        request_var.set(name)
        await watch.wait(w)

    # WHEN it starts the poller, and a second request subscribes to the same poller
    one = asyncio.create_task(request(first, "first request"))
    two = asyncio.create_task(request(second, "second request"))
    await asyncio.sleep(0.05)
    stopped.update({first, second})
    await asyncio.wait_for(asyncio.gather(one, two), 2)
    # THEN every poll read both generations at once, outside either request's context
    assert seen
    assert {value for value, _ in seen} == {""}
    assert max(count for _, count in seen) == 2
