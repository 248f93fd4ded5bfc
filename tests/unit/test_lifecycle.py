"""Resources built at init and reset around a SnapStart snapshot, and the Web Adapter's hooks."""

from __future__ import annotations

import random
from typing import Any

import pytest
import snapshot_restore_py

from stratus import lifecycle
from stratus.lifecycle import Resource
from stratus.web.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH, SnapStartHooks

pytestmark = pytest.mark.anyio


class Recorded:
    """Resources that write down what happened to them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def resource(self, name: str, *, reset_fails: bool = False) -> Resource:
        async def prepare() -> None:
            self.calls.append(f"prepare {name}")

        async def reset() -> None:
            self.calls.append(f"reset {name}")
            if reset_fails:
                raise OSError("the snapshot's socket is gone")

        return Resource(name, prepare, reset)


async def test_a_failing_reset_does_not_keep_the_others_open():
    record = Recorded()
    resources = [record.resource("a", reset_fails=True), record.resource("b")]
    await lifecycle.restored(resources)
    assert record.calls == ["reset a", "reset b", "prepare a", "prepare b"]


def test_distinct_keeps_the_first_of_each_name():
    record = Recorded()
    first, again, other = record.resource("x"), record.resource("x"), record.resource("y")
    assert lifecycle.distinct([first, again, other]) == (first, other)


def test_reseeding_leaves_the_snapshots_sequence():
    random.seed(7)
    lifecycle.reseed()
    assert random.random() != random.Random(7).random()


def test_the_runtime_hooks_reset_and_restore_on_the_given_loop():
    import asyncio

    registries = snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()
    for registry in registries:
        registry.clear()
    record = Recorded()
    loop = asyncio.new_event_loop()
    try:
        assert lifecycle.install_runtime_hooks([record.resource("pool")], loop)
        before, after = registries
        for func, args, kwargs in reversed(before):
            func(*args, **kwargs)
        for func, args, kwargs in after:
            func(*args, **kwargs)
    finally:
        loop.close()
        for registry in registries:
            registry.clear()
    assert record.calls == ["reset pool", "reset pool", "prepare pool"]


# -- the Web Adapter's hooks ---------------------------------------------------------------------


async def _call(app: Any, path: str, *, method: str = "POST", **extra: Any) -> list[Any]:
    sent: list[Any] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": extra.get("headers", []),
        "client": extra.get("client", ("127.0.0.1", 50000)),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def _passed_on(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.mark.parametrize(
    ("path", "calls"),
    [
        (BEFORE_CHECKPOINT_PATH, ["reset r"]),
        (AFTER_RESTORE_PATH, ["reset r", "prepare r"]),
    ],
)
async def test_the_adapter_reaches_the_hooks(path, calls):
    record = Recorded()
    hooks = SnapStartHooks(_passed_on, [record.resource("r")])
    sent = await _call(hooks, path)
    assert sent[0]["status"] == 204
    assert record.calls == calls


@pytest.mark.parametrize(
    "request_",
    [
        # Forwarded from API Gateway: the adapter adds this header to every invocation.
        {"headers": [(b"x-amzn-request-context", b'{"requestId": "x"}')]},
        {"client": ("203.0.113.7", 50000)},
        {"method": "GET"},
        {"path": "/_lambda/snapstart/other"},
    ],
)
async def test_anything_else_goes_to_the_app(request_):
    record = Recorded()
    hooks = SnapStartHooks(_passed_on, [record.resource("r")])
    path = request_.pop("path", AFTER_RESTORE_PATH)
    sent = await _call(hooks, path, **request_)
    assert sent[0]["status"] == 404
    assert record.calls == []


async def test_the_end_of_the_apps_start_up_ends_init():
    import gc

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    gc.unfreeze()
    try:
        await SnapStartHooks(app, [])({"type": "lifespan"}, receive, send)  # type: ignore[arg-type]
        assert sent == [{"type": "lifespan.startup.complete"}]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_init_runs_with_the_collector_off_and_freezes_what_it_built():
    import gc

    from stratus import init_gc

    gc.unfreeze()
    try:
        with init_gc.phase():
            assert not gc.isenabled()
            built = [object() for _ in range(10)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(built)
    finally:
        gc.unfreeze()


def test_a_failed_init_leaves_the_collector_on_and_freezes_nothing():
    import gc

    from stratus import init_gc

    gc.unfreeze()
    with pytest.raises(RuntimeError), init_gc.phase():
        raise RuntimeError("a weak signing secret")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
