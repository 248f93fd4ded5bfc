"""PerLoop: expensive clients built once per event loop and reused, as in a warm Lambda."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

from stratus.resources import PerLoop


class Client:
    """Stands in for a pool or HTTP client; weak-referenceable so leaks can be detected."""

    def __init__(self, serial: int) -> None:
        self.serial = serial


class CountingBuilder:
    def __init__(self, delay: float = 0.0, failures: int = 0) -> None:
        self.calls = 0
        self.delay = delay
        self.failures = failures

    async def __call__(self) -> Client:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("dependency down")
        return Client(self.calls)


@pytest.mark.anyio
async def test_same_object_across_calls_on_one_loop():
    build = CountingBuilder()
    resource = PerLoop(build)
    assert resource.current() is None
    first = await resource.get()
    assert await resource.get() is first
    assert resource.current() is first
    assert build.calls == 1


@pytest.mark.anyio
async def test_concurrent_first_calls_build_once():
    # GIVEN a slow builder (say, opening a connection pool)
    build = CountingBuilder(delay=0.05)
    resource = PerLoop(build)
    # WHEN ten requests need it at once on a cold start
    values = await asyncio.gather(*(resource.get() for _ in range(10)))
    # THEN it is built once and shared
    assert build.calls == 1
    assert all(value is values[0] for value in values)


@pytest.mark.anyio
async def test_failed_build_is_not_cached():
    build = CountingBuilder(failures=1)
    resource = PerLoop(build)
    with pytest.raises(ConnectionError):
        await resource.get()
    assert resource.current() is None
    value = await resource.get()
    assert value.serial == 2
    assert await resource.get() is value


@pytest.mark.anyio
async def test_forget_makes_the_next_call_rebuild():
    build = CountingBuilder()
    resource = PerLoop(build)
    first = await resource.get()
    resource.forget()
    assert resource.current() is None
    second = await resource.get()
    assert second is not first
    assert build.calls == 2


def test_each_loop_gets_its_own_object():
    build = CountingBuilder()
    resource = PerLoop(build)
    loop_a, loop_b = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        a1 = loop_a.run_until_complete(resource.get())
        b1 = loop_b.run_until_complete(resource.get())
        # warm calls on each loop reuse that loop's object
        a2 = loop_a.run_until_complete(resource.get())
        b2 = loop_b.run_until_complete(resource.get())
    finally:
        loop_a.close()
        loop_b.close()
    assert a1 is a2
    assert b1 is b2
    assert a1 is not b1
    assert build.calls == 2


def test_outside_a_loop_there_is_no_current_value():
    resource = PerLoop(CountingBuilder())
    assert resource.current() is None
    resource.forget()  # harmless without a running loop


def test_loops_in_parallel_threads_each_build_their_own():
    build = CountingBuilder(delay=0.05)
    resource = PerLoop(build)
    results: dict[str, list[Client]] = {}
    start = threading.Barrier(2)

    def run(name: str) -> None:
        async def burst() -> list[Client]:
            start.wait(timeout=5)
            return list(await asyncio.gather(*(resource.get() for _ in range(5))))

        results[name] = asyncio.run(burst())

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert build.calls == 2
    assert len({id(value) for value in results["a"]}) == 1
    assert len({id(value) for value in results["b"]}) == 1
    assert results["a"][0] is not results["b"][0]


def test_values_are_released_with_their_loop():
    resource = PerLoop(CountingBuilder())
    loop = asyncio.new_event_loop()
    value = loop.run_until_complete(resource.get())
    value_ref = weakref.ref(value)
    del value
    loop.close()
    del loop
    gc.collect()
    # A discarded loop must not pin the clients built for it.
    assert value_ref() is None
