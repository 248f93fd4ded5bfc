"""The chat hot path's shared-state calls, each change measured against its baseline in one run.

Parts (``BENCH_HOTPATH_PARTS``, default all):
- ``dynamodb``: client CPU per DynamoDB call, botocore (through a worker thread, as the app
  used it) against aiodynamo (on the event loop, over aiohttp), for the calls a generation
  makes: its start and finish (UpdateItem) and a stop poll (GetItem). Against moto and
  against the stand-in of ``dynamodb_standin`` (which answers at once, so the client's own CPU
  is what is left). CPU is this process's (``time.process_time``: every thread), per call.
- ``lookup``: the session lookup in a transaction (BEGIN, SELECT, COMMIT) against autocommit.
- ``commit``: the turn's first insert and a checkpoint with ``synchronous_commit`` on against
  off.
- ``moto``: the local stack's moto server (``local.atomic_moto``: moto's WSGI app on the event
  loop) against the server it replaced (``moto_threaded``: a2wsgi's worker threads and a lock),
  for chat's two calls per generation (the registry's start and finish, as the app makes them):
  the start's latency and moto's CPU per pair, at concurrency 1 and 8.
- ``hook``: what Litestar's ``before_send`` hook (the request id and the access-log line) adds
  to each chunk a stream sends: the app's wrapped send against the send it wraps.

Rounds alternate the variants (ABAB...), and tables print medians across rounds.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from tests.benchmarks.processes import wait_http
from tests.benchmarks.stats import median, table

PARTS = set(os.environ.get("BENCH_HOTPATH_PARTS", "dynamodb,lookup,commit,moto,hook").split(","))
ROUNDS = int(os.environ.get("BENCH_HOTPATH_ROUNDS", "5"))
CALLS = int(os.environ.get("BENCH_HOTPATH_CALLS", "200"))


@contextmanager
def dynamodb_endpoints() -> Iterator[dict[str, str]]:
    """moto (one request at a time, as the local stack runs it) and the stand-in before it."""
    from local.children import free_port

    moto_port, standin_port = free_port(), free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "local.atomic_moto", "--port", str(moto_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    moto_url = f"http://127.0.0.1:{moto_port}"
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.dynamodb_standin", "--port", str(standin_port),
         "--moto", moto_url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_http(moto_url + "/moto-api/", moto, "moto")
        standin_url = f"http://127.0.0.1:{standin_port}"
        wait_http(standin_url + "/moto-api/", standin, "stand-in")
        yield {"moto": moto_url, "stand-in (instant)": standin_url}
    finally:
        for process in (standin, moto):
            process.terminate()
            process.wait(10)


def _requests(table_name: str, user: str) -> list[tuple[str, dict[str, Any]]]:
    """A generation's calls on its user's item: start, a poll, finish (as the registry sends)."""
    key = {"pk": {"S": f"chat#user#{user}"}, "sk": {"S": "chat-state"}}
    names = {"#g": "g", "#task": "t1", "#exp": "expires_at"}
    start = {
        "TableName": table_name,
        "Key": key,
        "UpdateExpression": "SET #g.#task = :gen, #exp = :exp",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {
            ":gen": {"M": {"c": {"S": "chat"}, "x": {"N": "1900000000"}}},
            ":exp": {"N": "1900000000"},
        },
        "ReturnValues": "ALL_NEW",
    }
    poll = {
        "TableName": table_name,
        "Key": key,
        "ConsistentRead": True,
        "ProjectionExpression": "#s.#task, #cs.#chat",
        "ExpressionAttributeNames": {"#s": "s", "#cs": "cs", "#task": "t1", "#chat": "chat"},
    }
    finish = {
        "TableName": table_name,
        "Key": key,
        "UpdateExpression": "REMOVE #g.#task",
        "ExpressionAttributeNames": {"#g": "g", "#task": "t1"},
        "ReturnValues": "NONE",
    }
    return [("UpdateItem", start), ("GetItem", poll), ("UpdateItem", finish)]


def _seed(endpoint: str, table_name: str, user: str) -> None:
    import botocore.session

    client: Any = botocore.session.get_session().create_client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    existing = client.list_tables()["TableNames"]
    if table_name not in existing:
        client.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    client.put_item(
        TableName=table_name,
        Item={
            "pk": {"S": f"chat#user#{user}"}, "sk": {"S": "chat-state"},
            "g": {"M": {}}, "s": {"M": {}}, "cs": {"M": {}},
        },
    )  # fmt: skip
    client.close()


async def _concurrently(call: Callable[[int], Awaitable[Any]], n: int, concurrency: int) -> float:
    """CPU seconds per call for ``n`` calls made by ``concurrency`` workers."""
    for i in range(concurrency):  # warm: connections opened, caches built
        await call(i)
    started = time.process_time()

    async def worker(first: int) -> None:
        for i in range(first, n, concurrency):
            await call(i)

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return (time.process_time() - started) / n


async def _botocore_calls(
    calls: list[tuple[str, dict[str, Any]]], n: int, concurrency: int
) -> float:
    """The client the registry used: the table's pynamodb-built botocore, in a worker thread."""
    import anyio.to_thread

    from stratus.ephemeral.clients import build_client
    from stratus.ephemeral.table import ephemeral_model

    client = build_client(ephemeral_model())
    methods = {"UpdateItem": client.update_item, "GetItem": client.get_item}

    async def call(i: int) -> None:
        op, request = calls[i % len(calls)]
        await anyio.to_thread.run_sync(lambda: methods[op](**request))

    return await _concurrently(call, n, concurrency)


async def _aiodynamo_calls(
    calls: list[tuple[str, dict[str, Any]]], n: int, concurrency: int
) -> float:
    """The app's aiodynamo table, on the event loop."""
    from stratus.ephemeral.aio import AsyncTable

    table_ = AsyncTable()

    async def call(i: int) -> None:
        op, request = calls[i % len(calls)]
        await table_.call(op, request)

    try:
        return await _concurrently(call, n, concurrency)
    finally:
        await table_.close()


def _dynamodb_part() -> None:
    from stratus.ephemeral.clients import reset_clients
    from tests.support.services import aws_env, patched_environ

    table_name = "bench-hotpath"
    clients: dict[
        str, Callable[[list[tuple[str, dict[str, Any]]], int, int], Coroutine[Any, Any, float]]
    ]
    clients = {"botocore (thread)": _botocore_calls, "aiodynamo (aiohttp)": _aiodynamo_calls}
    results: dict[tuple[str, str], list[float]] = {}
    columns = []
    with dynamodb_endpoints() as endpoints:
        for url in endpoints.values():
            _seed(url, table_name, "bench")
        calls = _requests(table_name, "bench")
        for _ in range(ROUNDS):
            for where, url in endpoints.items():
                env = {**aws_env(url), "STRATUS_DYNAMODB_TABLE": table_name}
                for concurrency in (1, 8):
                    column = f"{where}, c={concurrency}"
                    columns.append(column)
                    n = CALLS if where != "moto" else max(40, CALLS // 4)
                    for client, run in clients.items():
                        with patched_environ(env):
                            reset_clients()
                            cpu = asyncio.run(run(calls, n, concurrency))
                        results.setdefault((client, column), []).append(cpu)
    columns = list(dict.fromkeys(columns))
    rows = [
        [client, *(f"{median(results[(client, c)]) * 1000:.2f}" for c in columns)]
        for client in clients
    ]
    ratio = [
        median(results[("aiodynamo (aiohttp)", c)]) / median(results[("botocore (thread)", c)])
        for c in columns
    ]
    rows.append(["aiodynamo / botocore", *(f"{r:.2f}x" for r in ratio)])
    print(
        f"\n## DynamoDB client CPU per call (start, poll, finish in turn; medians of {ROUNDS} "
        "alternating rounds; this process's CPU, every thread)"
    )
    print(table(["client", *(f"ms CPU/call, {c}" for c in columns)], rows))
    print(
        "Target: <= 1 ms of client CPU per call. The stand-in answers at once (a measuring "
        "device, see tests/benchmarks/dynamodb_standin.py), so its columns are the client's "
        "own CPU; against moto, waiting on its one-at-a-time lock costs the client CPU too."
    )


@contextmanager
def _postgres() -> Iterator[str]:
    from stratus.migrations import apply_migrations
    from tests.support.services import embedded_postgres, server_data_dir

    with (
        server_data_dir("stratus-bench-hotpath-") as scratch,
        embedded_postgres(scratch / "pgdata") as url,
    ):
        apply_migrations(url)
        yield url


async def _timed(work: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """Median wall seconds of one ``work()``, and CPU seconds per call (this process)."""
    walls = []
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        await work()
        walls.append(time.perf_counter() - started)
    return median(walls), (time.process_time() - cpu) / n


def _lookup_part(url: str) -> None:
    """The session lookup as it was (BEGIN, SELECT, COMMIT) and in autocommit."""
    from stratus.auth.sessions_store import _RESOLVE
    from stratus.db import autocommit, close_pool, connection
    from tests.support.services import patched_environ

    async def run() -> dict[str, list[tuple[float, float]]]:
        async with connection() as conn:
            await conn.execute(
                "INSERT INTO users (id, email, name, role, password_hash) "
                "VALUES ('bench', 'bench@bench.test', 'b', 'user', 'x') ON CONFLICT DO NOTHING"
            )
            await conn.execute(
                "INSERT INTO sessions (jti, user_id, expires_at) "
                "VALUES ('s1', 'bench', now() + interval '1 day') ON CONFLICT DO NOTHING"
            )
        params = ("s1", "bench", 0)

        async def in_transaction() -> None:
            async with connection() as conn:
                await (await conn.execute(_RESOLVE, params)).fetchone()

        async def in_autocommit() -> None:
            async with autocommit() as conn:
                await (await conn.execute(_RESOLVE, params)).fetchone()

        found: dict[str, list[tuple[float, float]]] = {}
        for _ in range(ROUNDS):
            for name, work in (("BEGIN, SELECT, COMMIT", in_transaction),
                               ("autocommit SELECT", in_autocommit)):  # fmt: skip
                found.setdefault(name, []).append(await _timed(work, CALLS))
        await close_pool()
        return found

    with patched_environ({"DATABASE_URL": url, "DATABASE_POOL_SIZE": "1"}):
        found = asyncio.run(run())
    _print_pair("Session lookup (every authenticated request)", found)


def _commit_part(url: str) -> None:
    """The turn's first insert committed as now and with ``synchronous_commit = off`` set
    locally in the same round trip (BEGIN; SET LOCAL; the statement; COMMIT in one pipeline)."""
    import uuid

    from functions.chat.chats import sql
    from stratus.db import autocommit, close_pool, connection
    from tests.support.services import patched_environ

    async def run() -> dict[str, list[tuple[float, float]]]:
        async with connection() as conn:
            await conn.execute(
                "INSERT INTO users (id, email, name, role, password_hash) "
                "VALUES ('bench', 'bench@bench.test', 'b', 'user', 'x') ON CONFLICT DO NOTHING"
            )
            # A fresh chat per turn, as in the chat benchmark: a chat's turn reads its leaf.
            chats = [str(uuid.uuid4()) for _ in range(2 * ROUNDS * CALLS)]
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO chats (id, user_id, title) VALUES (%s, 'bench', 't')",
                    [(chat,) for chat in chats],
                )

        def params() -> dict[str, Any]:
            return {
                "chat_id": chats.pop(), "user_id": "bench", "parent_id": None, "regenerate": False,
                "assistant_id": str(uuid.uuid4()), "assistant_client_id": None,
                "user_message_id": str(uuid.uuid4()), "user_client_id": None,
                "content": "hello", "content_parts": None, "model": "m",
                "task_id": uuid.uuid4().hex,
            }  # fmt: skip

        async def synchronous() -> None:
            async with autocommit() as conn:
                await (await conn.execute(sql.BEGIN_TURN, params())).fetchall()

        async def asynchronous() -> None:
            async with autocommit() as conn, conn.pipeline() as pipeline:
                await conn.execute("BEGIN")
                await conn.execute("SET LOCAL synchronous_commit = off")
                cursor = await conn.execute(sql.BEGIN_TURN, params())
                await conn.execute("COMMIT")
                await pipeline.sync()
                await cursor.fetchall()

        found: dict[str, list[tuple[float, float]]] = {}
        for _ in range(ROUNDS):
            for name, work in (("synchronous commit (as now)", synchronous),
                               ("SET LOCAL synchronous_commit = off", asynchronous)):  # fmt: skip
                found.setdefault(name, []).append(await _timed(work, CALLS))
        await close_pool()
        return found

    with patched_environ({"DATABASE_URL": url, "DATABASE_POOL_SIZE": "1"}):
        found = asyncio.run(run())
    _print_pair("The turn's first insert (begin_turn), commit mode", found)


def _print_pair(title: str, found: dict[str, list[tuple[float, float]]]) -> None:
    names = list(found)
    rows = [
        [
            name,
            f"{median([w for w, _ in found[name]]) * 1000:.2f}",
            f"{median([c for _, c in found[name]]) * 1000:.2f}",
        ]
        for name in names
    ]
    base = median([w for w, _ in found[names[0]]])
    rows.append(["ratio", f"{median([w for w, _ in found[names[1]]]) / base:.2f}x", ""])
    print(f"\n## {title}: {CALLS} calls x {ROUNDS} alternating rounds, medians")
    print(table(["variant", "wall ms/call (p50)", "client CPU ms/call"], rows))


@contextmanager
def _moto(module: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    from local.children import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/", process, module)
        yield url, process
    finally:
        process.terminate()
        process.wait(10)


async def _generations(url: str, concurrency: int, pairs: int) -> list[float]:
    """``pairs`` generations' start and finish (the registry's calls), ``concurrency`` users at
    a time; returns the starts' latencies."""
    import dataclasses

    from functions.chat.generation.registry import GenerationRegistry
    from stratus.ephemeral.aio import close_tables
    from stratus.settings import ChatSettings, aws_settings

    aws = dataclasses.replace(aws_settings(), dynamodb_endpoint=url)
    settings = dataclasses.replace(
        ChatSettings.from_env({}), requests_per_minute=1_000_000, daily_token_budget=10**9
    )
    registry = GenerationRegistry(settings, aws)
    latencies: list[float] = []

    async def user(u: int) -> None:
        for i in range(pairs // concurrency):
            started = time.perf_counter()
            admission = await registry.start(
                f"bench-{u}", f"t{i}", "chat", enforce_limits=True, requested_at_ms=0
            )
            latencies.append(time.perf_counter() - started)
            await registry.finish(f"bench-{u}", f"t{i}", 10, admission)

    await asyncio.gather(*(user(u) for u in range(concurrency)))
    await close_tables()
    return latencies


def _moto_part() -> None:
    import psutil

    from stratus.ephemeral.table import create_table
    from stratus.settings import aws_settings
    from tests.support.services import aws_env, patched_environ

    servers = {"threads + lock (before)": "tests.benchmarks.moto_threaded",
               "on the event loop (now)": "local.atomic_moto"}  # fmt: skip
    found: dict[tuple[str, int], list[tuple[float, float]]] = {}
    pairs = max(80, CALLS // 2)
    with (
        _moto(servers["threads + lock (before)"]) as old,
        _moto(servers["on the event loop (now)"]) as new,
    ):
        running = dict(zip(servers, (old, new), strict=True))
        for url, _ in running.values():
            with patched_environ({**aws_env(url), "STRATUS_DYNAMODB_TABLE": "bench-moto"}):
                create_table(aws_settings())
        first = next(iter(running.values()))[0]
        with patched_environ({**aws_env(first), "STRATUS_DYNAMODB_TABLE": "bench-moto"}):
            for _ in range(ROUNDS):
                for concurrency in (1, 8):
                    for name, (url, process) in running.items():
                        moto = psutil.Process(process.pid)
                        before = sum(moto.cpu_times()[:2])
                        latencies = asyncio.run(_generations(url, concurrency, pairs))
                        cpu = (sum(moto.cpu_times()[:2]) - before) / len(latencies)
                        found.setdefault((name, concurrency), []).append((median(latencies), cpu))
    rows = [
        [
            name,
            concurrency,
            f"{median([w for w, _ in found[(name, concurrency)]]) * 1000:.2f}",
            f"{median([c for _, c in found[(name, concurrency)]]) * 1000:.2f}",
        ]
        for concurrency in (1, 8)
        for name in servers
    ]
    print(
        f"\n## The local stack's moto server: chat's start and finish, {pairs} generations x "
        f"{ROUNDS} alternating rounds, medians"
    )
    print(table(["server", "concurrency", "start p50 ms", "moto CPU ms per generation"], rows))


def _hook_part() -> None:
    from litestar import Litestar

    from stratus.web.plugin import StratusPlugin

    app = Litestar(route_handlers=[], plugins=[StratusPlugin(service="bench", readiness=())])
    scope: dict[str, Any] = {"type": "http", "state": {}, "path": "/", "method": "POST"}
    message = {"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True}

    async def send(_: Any) -> None:
        return None

    wrapped = app._wrap_send(send, scope)  # type: ignore[arg-type]  # what Litestar.__call__ does
    n = CALLS * 500

    async def per_chunk(target: Callable[[Any], Awaitable[None]]) -> float:
        started = time.process_time()
        for _ in range(n):
            await target(message)
        return (time.process_time() - started) / n

    found: dict[str, list[float]] = {"the send it wraps": [], "Litestar's wrapped send": []}
    for _ in range(ROUNDS):
        found["the send it wraps"].append(asyncio.run(per_chunk(send)))
        found["Litestar's wrapped send"].append(asyncio.run(per_chunk(wrapped)))
    bare, hooked = (median(v) * 1e6 for v in found.values())
    print(f"\n## The before_send hook per streamed chunk: {n} chunks x {ROUNDS} rounds, medians")
    print(
        table(
            ["send", "CPU us per chunk"],
            [["the send it wraps", f"{bare:.3f}"],
             ["Litestar's wrapped send (hook)", f"{hooked:.3f}"],
             ["the hook's share", f"{hooked - bare:.3f}"]],
        )
    )  # fmt: skip


def main() -> None:
    if "dynamodb" in PARTS:
        _dynamodb_part()
    if "moto" in PARTS:
        _moto_part()
    if "hook" in PARTS:
        _hook_part()
    if PARTS & {"lookup", "commit"}:
        with _postgres() as url:
            if "lookup" in PARTS:
                _lookup_part(url)
            if "commit" in PARTS:
                _commit_part(url)
