"""The generation registry against moto: registration, stop flags, limits and their windows.

Each test runs twice: against moto, and against the benchmarks' DynamoDB stand-in
(``tests.benchmarks.dynamodb_standin``), a measuring device whose figures in RESULTS.md are only
worth something if chat's calls behave there as they do against moto. Its stop polls once failed
on every call (a projection naming ``pk`` directly), which went unnoticed without this.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from functions.chat.generation.registry import (
    Admission,
    GenerationRegistry,
    seconds_to_midnight,
    utc_day,
)
from functions.chat.generation.user_state import item_key, state_table, table_name
from stratus.ephemeral.aio import close_tables
from stratus.errors import ServiceUnavailableError
from stratus.settings import AwsSettings, ChatSettings, aws_settings
from tests.benchmarks.dynamodb_standin import standin_app
from tests.support.live_server import live_server
from tests.support.services import MotoServer, patched_environ

pytestmark = pytest.mark.anyio

NOON = 1_795_003_200.0 + 12 * 3600  # a UTC noon, so day arithmetic is easy to read


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def chat_settings(**changes) -> ChatSettings:
    base = ChatSettings.from_env({})
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def standin(moto: MotoServer) -> Iterator[str]:
    with live_server(standin_app(moto.endpoint), lifespan="off") as server:
        yield server.base_url


@pytest.fixture(autouse=True, params=["moto", "stand-in"])
def store(request: pytest.FixtureRequest, env: dict[str, str]) -> Iterator[str]:
    """Where chat's state calls go: moto itself, or the stand-in in front of it."""
    if request.param == "moto":
        yield env["AWS_ENDPOINT_URL_DYNAMODB"]
        return
    endpoint = request.getfixturevalue("standin")
    with patched_environ({"AWS_ENDPOINT_URL_DYNAMODB": endpoint}):
        assert aws_settings().dynamodb_endpoint == endpoint
        yield endpoint


@pytest.fixture(autouse=True)
async def _close_sessions() -> AsyncIterator[None]:
    """The registry's aiohttp sessions belong to the test's event loop: closed with it."""
    yield
    await close_tables()


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def registry(clock: Clock, **changes) -> GenerationRegistry:
    return GenerationRegistry(chat_settings(**changes), aws_settings(), clock=clock)


async def start(reg: GenerationRegistry, user: str, task: str, chat: str | None = None, **kw):
    kw.setdefault("enforce_limits", True)
    kw.setdefault("requested_at_ms", int(NOON * 1000) - 1000)
    return await reg.start(user, task, chat, **kw)


async def test_a_running_generation_can_be_stopped_and_the_flag_is_seen(env, user, clock):
    reg = registry(clock)
    admission = await start(reg, user, "t1")
    assert admission.allowed
    assert not admission.stopped
    assert await reg.stop_requested(user, "t1", None, 0) is False
    assert await reg.stop_task(user, "t1", only_if_running=True) is True
    assert await reg.stop_requested(user, "t1", None, 0) is True
    # A second stop is a harmless no-op while it runs.
    assert await reg.stop_task(user, "t1", only_if_running=True) is True


async def test_stopping_an_unknown_or_finished_task_does_nothing(env, user, clock):
    reg = registry(clock)
    assert await reg.stop_task(user, "nope", only_if_running=True) is False
    admission = await start(reg, user, "t2")
    await reg.finish(user, "t2", 10, admission)
    assert await reg.stop_task(user, "t2", only_if_running=True) is False
    # Finishing leaves nothing of the generation in the user's item.
    raw = (
        await state_table(aws_settings()).call(
            "GetItem",
            {
                "TableName": table_name(aws_settings()),
                "Key": item_key(user),
                "ConsistentRead": True,
            },
        )
    )["Item"]
    assert raw["g"] == {"M": {}}


async def test_someone_elses_task_cannot_be_stopped_through_their_own_state(env, user, clock):
    reg = registry(clock)
    await start(reg, user, "owned")
    intruder = f"intruder-{uuid.uuid4().hex[:8]}"
    assert await reg.stop_task(intruder, "owned", only_if_running=True) is False
    assert await reg.stop_requested(user, "owned", None, 0) is False


async def test_a_chat_stop_before_registration_still_wins(env, user, clock):
    reg = registry(clock)
    requested_ms = int(clock.now * 1000) - 50
    await reg.stop_chat(user, "chat-1")
    admission = await start(reg, user, "t3", "chat-1", requested_at_ms=requested_ms)
    assert admission.stopped is True
    # A generation the user starts after pressing stop is not stopped by that old flag.
    clock.now += 5
    later = await start(reg, user, "t4", "chat-1", requested_at_ms=int(clock.now * 1000))
    assert later.stopped is False
    assert await reg.stop_requested(user, "t4", "chat-1", int(clock.now * 1000)) is False


async def test_requests_per_minute_are_reserved_then_judged(env, user, clock):
    reg = registry(clock, requests_per_minute=3)
    results = [await start(reg, user, f"r{i}") for i in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    refused = results[-1]
    assert refused.reason == "requests"
    # At most one window and one sub-window: the oldest counted tally is counted whole.
    assert 1 <= refused.retry_after <= 66


async def test_the_window_slides_so_a_boundary_does_not_double_the_allowance(env, user, clock):
    reg = registry(clock, requests_per_minute=3)
    clock.now = NOON + 57  # late in a window
    assert all([(await start(reg, user, f"a{i}")).allowed for i in range(3)])
    clock.now = NOON + 61  # just after the boundary: a fixed window would allow 3 more
    assert (await start(reg, user, "b0")).allowed is False
    clock.now = NOON + 120 + 50  # most of a window later, the old hits have slid out
    assert (await start(reg, user, "c0")).allowed is True


async def test_concurrent_starts_never_admit_more_than_the_limit(env, user, clock):
    reg = registry(clock, requests_per_minute=5)
    results = await asyncio.gather(*(start(reg, user, f"c{i}") for i in range(16)))
    assert sum(r.allowed for r in results) == 5


async def test_daily_token_budget_is_enforced_and_resets_at_midnight(env, user, clock):
    reg = registry(clock, daily_token_budget=100)
    first = await start(reg, user, "d1")
    await reg.finish(user, "d1", 120, first)
    refused = await start(reg, user, "d2")
    assert (refused.allowed, refused.reason) == (False, "tokens")
    assert refused.retry_after == seconds_to_midnight(clock.now)
    clock.now += 86400
    assert (await start(reg, user, "d3")).allowed is True
    assert utc_day(clock.now) == utc_day(NOON) + 1


async def test_admins_can_be_exempt(env, user, clock):
    reg = registry(clock, requests_per_minute=1)
    results = [await start(reg, user, f"e{i}", enforce_limits=False) for i in range(3)]
    assert all(r.allowed for r in results)


async def test_an_unreachable_store_is_service_unavailable(env, user, clock):
    down = dataclasses.replace(aws_settings(), dynamodb_endpoint="http://127.0.0.1:9")
    reg = GenerationRegistry(chat_settings(), down, clock=clock)
    with pytest.raises(ServiceUnavailableError):
        await start(reg, user, "x")
    with pytest.raises(ServiceUnavailableError):
        await reg.stop_requested(user, "x", None, 0)
    assert isinstance(down, AwsSettings)
    assert Admission(True).allowed


async def test_a_chat_without_a_stop_flag_is_never_stopped(env, user, clock):
    reg = registry(clock)
    admission = await start(reg, user, "z1", "chat-z", requested_at_ms=0)
    assert admission.stopped is False
    assert await reg.stop_requested(user, "z1", "chat-z", 0) is False


async def test_the_poller_wakes_only_the_stopped_generation_and_ends_with_the_last(
    env, user, clock
):
    # GIVEN two running generations of one user, both watched by this instance's poller
    reg = registry(clock, poll_interval=0.05)
    for task in ("w1", "w2"):
        await start(reg, user, task)
    first = asyncio.create_task(reg.stopped(user, "w1", None, 0))
    second = asyncio.create_task(reg.stopped(user, "w2", None, 0))
    await asyncio.sleep(0.15)
    assert not first.done()
    assert not second.done()
    # WHEN the first one is stopped
    assert await reg.stop_task(user, "w1", only_if_running=True)
    await asyncio.wait_for(first, 2)
    # THEN only it woke; and when the other stops watching, the poller ends
    await asyncio.sleep(0.15)
    assert not second.done()
    assert reg._watch.watching() == 1
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert reg._watch.watching() == 0
    poller = reg._watch._loops[asyncio.get_running_loop()].poller
    assert poller is not None
    await asyncio.wait_for(poller, 2)


async def test_a_snapstart_restore_closes_the_session_and_reads_credentials_afresh(
    env, user, clock
):
    from functions.chat.generation.user_state import STATE_CLIENTS
    from stratus import lifecycle

    # GIVEN the registry has talked to DynamoDB on this loop
    reg = registry(clock)
    admission = await start(reg, user, "r1")
    table = state_table(aws_settings())
    session = table._sessions[asyncio.get_running_loop()]
    credentials = table._credentials
    # WHEN the after-restore hooks run
    await lifecycle.restored([STATE_CLIENTS])
    # THEN no connection from before survives, the credentials were read again, and the
    # registry works on a new session
    assert session.closed
    assert table._credentials is not None
    assert table._credentials is not credentials
    assert asyncio.get_running_loop() not in table._sessions
    await reg.finish(user, "r1", 0, admission)
    assert not table._sessions[asyncio.get_running_loop()].closed
