"""The sliding-window limit against moto's DynamoDB, with a clock the tests drive."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratus.ephemeral.table import ephemeral_model
from stratus.ephemeral.tallies import TallyStore
from stratus.limits import Counter, SlidingWindow
from tests.support.clock import FakeClock

pytestmark = pytest.mark.anyio

WINDOW = 300
LIMIT = 10
# A start on a whole window, so "just before/after a boundary" means what it says.
EPOCH = 1_800_000_000.0 - 1_800_000_000.0 % WINDOW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EPOCH)


@pytest.fixture
def window(env: dict[str, str], clock: FakeClock) -> SlidingWindow:
    return SlidingWindow(TallyStore(), clock=clock)


@pytest.fixture
def counter() -> Counter:
    return Counter(f"test#{uuid.uuid4().hex}", "c")


async def reserve(window: SlidingWindow, counter: Counter, limit: int = LIMIT) -> Any:
    return await window.reserve(counter, limit=limit, window_seconds=WINDOW)


def raw_item(counter: Counter) -> dict[str, Any]:
    connection = ephemeral_model()._get_connection()
    item: dict[str, Any] = connection.get_item(counter.pk, counter.sk, consistent_read=True)
    return dict(item.get("Item", {}))


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """Every DynamoDB operation the process sends, seen from botocore's own event hooks."""
    client = ephemeral_model()._get_connection().connection.client
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-call.dynamodb", record)


async def test_allows_the_limit_then_refuses_without_counting_refusals(window, counter, clock):
    decisions = [await reserve(window, counter) for _ in range(LIMIT)]
    assert [d.allowed for d in decisions] == [True] * LIMIT
    assert [d.count for d in decisions] == list(range(1, LIMIT + 1))
    for _ in range(3):
        refused = await reserve(window, counter)
        assert not refused.allowed
        assert refused.count == LIMIT + 1  # each refusal was given back before the next
    # All ten landed in the current sub-window, which counts until a window and a step later.
    assert refused.retry_after == WINDOW + WINDOW // 10


async def test_concurrent_reservations_allow_exactly_the_limit(window, counter):
    decisions = await asyncio.gather(*(reserve(window, counter) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == LIMIT
    assert sorted(d.count for d in decisions if d.allowed) == list(range(1, LIMIT + 1))
    # Given back: only the allowed ones remain counted.
    assert sum(int(v["N"]) for k, v in raw_item(counter).items() if k.startswith("t")) == LIMIT


async def test_twice_the_limit_straddling_a_window_boundary_is_refused(window, counter, clock):
    # The boundary of a fixed window: it used to let 2 x limit through within a second or two.
    clock.now = EPOCH + WINDOW - 0.5
    assert all([(await reserve(window, counter)).allowed for _ in range(LIMIT)])
    clock.now = EPOCH + WINDOW + 0.5
    after = [await reserve(window, counter) for _ in range(LIMIT)]
    assert not any(d.allowed for d in after)
    # The burst leaves the window with its sub-window, at most one step late.
    clock.now = EPOCH + 2 * WINDOW - 0.5
    assert not (await reserve(window, counter)).allowed
    clock.now = EPOCH + 2 * WINDOW
    assert (await reserve(window, counter)).allowed


async def test_retry_after_is_when_one_more_fits(window, counter, clock):
    for offset in range(LIMIT):
        clock.now = EPOCH + offset * 31  # spread over the window, one per sub-window or so
        assert (await reserve(window, counter)).allowed
    clock.now = EPOCH + 290
    refused = await reserve(window, counter)
    assert not refused.allowed
    clock.advance(refused.retry_after - 1)
    assert not (await reserve(window, counter)).allowed
    clock.advance(1)
    assert (await reserve(window, counter)).allowed


async def test_release_gives_an_attempt_back_but_never_below_zero(window, counter, clock):
    decisions = [await reserve(window, counter) for _ in range(LIMIT)]
    await window.release(counter, decisions[0])
    assert (await reserve(window, counter)).allowed
    assert not (await reserve(window, counter)).allowed
    # Once its sub-window has left the item, a late release changes nothing.
    clock.advance(3 * WINDOW)
    fresh = await reserve(window, counter)
    await window.release(counter, decisions[1])
    tallies = {k: int(v["N"]) for k, v in raw_item(counter).items() if k.startswith("t")}
    assert tallies == {fresh.tally: 1}


async def test_clear_and_clear_partition(window, clock):
    pk = f"test#{uuid.uuid4().hex}"
    counters = [Counter(pk, f"ip#{i}") for i in range(3)]
    for c in counters:
        for _ in range(LIMIT):
            await reserve(window, c)
    await window.clear(counters[0])
    assert (await reserve(window, counters[0])).allowed
    assert await window.clear_partition(pk) == 3
    assert all([(await reserve(window, c)).allowed for c in counters])


async def test_expiry_is_judged_by_the_clock_not_by_ttl(window, counter, clock):
    # GIVEN a full counter whose item TTL has not been swept (moto, like DynamoDB, runs late)
    for _ in range(LIMIT):
        await reserve(window, counter)
    clock.advance(WINDOW * 5)
    # THEN it is empty by our clock, and the old tallies are removed from the item
    first = await reserve(window, counter)
    assert first.count == 1
    assert [k for k in raw_item(counter) if k.startswith("t")] == [first.tally]


async def test_one_dynamodb_call_per_allowed_reservation(window, counter, clock):
    await reserve(window, counter)
    with dynamodb_calls() as calls:
        await reserve(window, counter)  # same sub-window
        clock.advance(WINDOW / 10)
        await reserve(window, counter)  # the next one
    assert calls == ["UpdateItem", "UpdateItem"]
    for _ in range(LIMIT):
        await reserve(window, counter)
    with dynamodb_calls() as calls:
        assert not (await reserve(window, counter)).allowed
    assert calls == ["UpdateItem", "UpdateItem"]  # counted, then given back


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=WINDOW / 3), min_size=1, max_size=45),
    limit=st.integers(min_value=1, max_value=6),
)
def test_no_window_length_interval_ever_holds_more_than_the_limit(env, gaps, limit):
    clock = FakeClock(EPOCH)
    window = SlidingWindow(TallyStore(), clock=clock)
    counter = Counter(f"test#{uuid.uuid4().hex}", "c")
    step = WINDOW / 10

    async def scenario() -> list[tuple[float, bool]]:
        outcomes = []
        for gap in gaps:
            clock.advance(gap)
            decision = await window.reserve(counter, limit=limit, window_seconds=WINDOW)
            outcomes.append((clock.now, decision.allowed))
        return outcomes

    outcomes = asyncio.run(scenario())
    allowed = [t for t, ok in outcomes if ok]
    for t in allowed:
        assert sum(t - WINDOW < u <= t for u in allowed) <= limit
    # Strict, but not by more than one sub-window: with fewer than the limit in the last
    # window and a step, an attempt is allowed.
    for t, ok in outcomes:
        if not ok:
            assert sum(t - WINDOW - step <= u <= t for u in allowed) >= limit
