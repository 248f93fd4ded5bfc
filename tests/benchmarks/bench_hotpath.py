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

PARTS = set(os.environ.get("BENCH_HOTPATH_PARTS", "dynamodb,lookup,commit").split(","))
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


def main() -> None:
    if "dynamodb" in PARTS:
        _dynamodb_part()
