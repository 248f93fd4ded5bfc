"""Chat gateway benchmarks: overhead against a direct call and a bare proxy, stop latency, and
DynamoDB calls per generation with their cost.

Every server is its own process, started with the same uvicorn command (uvloop + httptools) as
the chat function under the Lambda Web Adapter: the model-host emulator (5 ms per token, 32
tokens), the composed Stratus app (authenticated, each request a turn saved into its own chat,
with the limits and the stop registry on), and the bare floor (``bare_proxy.py``: raw ASGI,
msgspec, aiohttp; no auth, no database, no registry). The load comes from this process over
loopback; CPU is read from each server process's own counters (psutil), so the figure is the
server's CPU per streamed request, nothing else's. Runs are interleaved and repeated, and the
tables print medians across rounds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil

from tests.benchmarks.processes import wait_http
from tests.benchmarks.stats import median, percentile, table

ROUNDS = int(os.environ.get("BENCH_CHAT_ROUNDS", "3"))
# Another checkout's app (e.g. `git archive main | tar -x -C DIR`), measured in the same rounds:
# a same-run baseline for a change. Same database and DynamoDB; unset: not measured.
BASELINE_TREE = os.environ.get("BENCH_CHAT_BASELINE_TREE", "")
# Which tables to run: any of overhead, timeline, relay, stop, dynamodb.
PARTS = set(os.environ.get("BENCH_CHAT_PARTS", "overhead,timeline,relay,stop,dynamodb").split(","))
# The relay part: long answers, so that the per-token cost dominates the per-request one.
RELAY_TOKENS = 256
RELAY_STREAMS = 16
RELAY_CONCURRENCY = 4
STOPS = int(os.environ.get("BENCH_CHAT_STOPS", "25"))
TOKEN_DELAY = 0.005
# "You said:" and thirty words: a 32-token answer.
PROMPT = " ".join(f"w{i}" for i in range(30))
LEVELS = {1: 30, 8: 120, 32: 192}  # concurrency: requests per round
SECRET = "bench-chat-signing-key-7d1e3f5a9c2b4d6e8f0a1c3e5a7b9d2f"
ROOT = Path(__file__).resolve().parents[2]
# Each server's output, for when a run fails: build/bench-logs/<server>-<port>.log.
LOG_DIR = ROOT / "build" / "bench-logs"

# DynamoDB on-demand prices (us-east-1, since November 2024), dollars per million units.
WRITE_PRICE, READ_PRICE = 0.625, 0.125


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)


@contextmanager
def uvicorn_process(
    name: str,
    target: str,
    env: Mapping[str, str],
    *,
    factory: bool = False,
    ready: str = "/",
    root: Path = ROOT,
) -> Iterator[Server]:
    """``target`` under the chat function's uvicorn command, importing from ``root``."""
    from local.children import free_port

    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        *(["--factory"] if factory else []),
    ]  # fmt: skip
    full_env = {**os.environ, **env, "PYTHONPATH": f"{root}:{root / 'layers/stratus/python'}"}
    log = LOG_DIR / f"{name.replace(' ', '-').replace('(', '').replace(')', '')}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=root, env=full_env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + ready, process, name)
        yield Server(name, url, process)
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def emulator_process() -> Iterator[Server]:
    from local.children import free_port

    port = free_port()
    command = [
        sys.executable, "-m", "local.emulator", "--host", "127.0.0.1", "--port", str(port),
        "--token-delay", str(TOKEN_DELAY),
    ]  # fmt: skip
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(command, cwd=ROOT, stdout=devnull, stderr=devnull)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/api/version", process, "emulator")
        yield Server("emulator", url, process)
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def backing_services() -> Iterator[dict[str, str]]:
    from local.children import free_port
    from stratus.ephemeral.table import create_table
    from stratus.migrations import apply_migrations
    from tests.support.services import aws_env, embedded_postgres, patched_environ, server_data_dir

    with ExitStack() as stack:
        scratch = stack.enter_context(server_data_dir("stratus-bench-chat-"))
        database_url = stack.enter_context(embedded_postgres(scratch / "pgdata"))
        apply_migrations(database_url)
        # moto in its own process: in this one it would compete with the load for the GIL.
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "local.atomic_moto",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with (LOG_DIR / "moto.log").open("wb") as out:
            moto = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out)
        stack.callback(moto.wait, 10)
        stack.callback(moto.terminate)
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(endpoint + "/moto-api/", moto, "moto")
        env = {
            "DATABASE_URL": database_url,
            "DATABASE_POOL_SIZE": "10",
            "STRATUS_DATA_DIR": str(scratch / "data"),
            "STRATUS_DYNAMODB_TABLE": "stratus-bench",
            "WEBUI_SECRET_KEY": SECRET,
            "STRATUS_DEV_MODE": "true",
            "STRATUS_ARGON2_TIME_COST": "1",
            "STRATUS_ARGON2_MEMORY_KIB": "1024",
            "STRATUS_ARGON2_PARALLELISM": "1",
            "STRATUS_SIGNUP_MAX_PER_IP": "0",
            # The limits stay on, high enough never to refuse: their cost is part of the figure.
            "STRATUS_RATE_LIMIT_RPM": "1000000",
            "STRATUS_DAILY_TOKEN_BUDGET": "1000000000",
            "LOG_LEVEL": "WARNING",
            **aws_env(endpoint),
        }
        stack.enter_context(patched_environ(env))
        create_table()
        yield env


@contextmanager
def standin_process(moto_url: str) -> Iterator[str]:
    """The measuring device of ``dynamodb_standin``: chat-state calls answered in parallel,
    everything else forwarded to moto."""
    from local.children import free_port

    port = free_port()
    command = [
        sys.executable, "-m", "tests.benchmarks.dynamodb_standin", "--port", str(port),
        "--moto", moto_url,
    ]  # fmt: skip
    with (LOG_DIR / "standin.log").open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/moto-api/", process, "DynamoDB stand-in")
        yield url
    finally:
        process.terminate()
        process.wait(10)


# -- load --------------------------------------------------------------------------------


@dataclass
class Sample:
    ttft: float
    total: float


async def _one(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> Sample:
    started = time.perf_counter()
    ttft = 0.0
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {await response.text()}")
        async for line in response.content:
            if not ttft and line.startswith(b"data:") and b'"content"' in line:
                ttft = time.perf_counter() - started
    return Sample(ttft, time.perf_counter() - started)


async def _load(
    target: Target, concurrency: int, requests: int
) -> tuple[list[Sample], float, float]:
    """``requests`` streams at ``concurrency``; returns samples, wall time and server CPU."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        semaphore = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(_one(session, *target.request(i)) for i in range(concurrency)))
        cpu_before = target.server.cpu_seconds()
        started = time.perf_counter()

        async def limited(i: int) -> Sample:
            async with semaphore:
                return await _one(session, *target.request(i))

        samples = await asyncio.gather(*(limited(i) for i in range(requests)))
        wall = time.perf_counter() - started
        cpu = target.server.cpu_seconds() - cpu_before
    return list(samples), wall, cpu


@dataclass
class Target:
    server: Server
    path: str
    headers: dict[str, str]
    chats: list[str] | None = None
    model: str = "emulator-chat"
    prompt: str = PROMPT

    def request(self, i: int) -> tuple[str, bytes, dict[str, str]]:
        body: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "messages": [{"role": "user", "content": self.prompt}],
        }
        if self.chats:
            body["chat_id"] = self.chats.pop()
        headers = {"content-type": "application/json", **self.headers}
        return self.server.url + self.path, json.dumps(body).encode(), headers


def _accounts(base_url: str, chats: int) -> tuple[dict[str, str], list[str]]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        signup = {"name": "Bench Admin", "email": "admin@bench.test", "password": "bench-pw-1"}
        admin = client.post("/api/v1/auths/signup", json=signup).json()
        user = client.post(
            "/api/v1/auths/signup",
            json={"name": "Bench", "email": "user@bench.test", "password": "bench-pw-2"},
        ).json()
        client.post(
            f"/api/v1/users/{user['id']}/update",
            json={"role": "user"},
            headers={"Authorization": f"Bearer {admin['token']}"},
        ).raise_for_status()
        headers = {"Authorization": f"Bearer {user['token']}"}
    return headers, chats_for(base_url, headers, chats)


def chats_for(base_url: str, headers: dict[str, str], chats: int) -> list[str]:
    """``chats`` new chats of the user ``headers`` sign in as, one per saved turn to come."""
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        return [
            client.post("/api/v1/chats/new", json={"chat": {"title": f"c{i}"}}).json()["id"]
            for i in range(chats)
        ]


def _overhead(
    stack: Server,
    bare: Server,
    emulator: Server,
    headers: dict[str, str],
    chats: list[str],
    parallel: Server,
    baseline: Server | None = None,
) -> None:
    results: dict[tuple[str, int], list[tuple[list[Sample], float, float]]] = {}
    for _ in range(ROUNDS):
        for concurrency, requests in LEVELS.items():
            targets = {
                "direct": Target(emulator, "/v1/chat/completions", {}),
                "bare": Target(bare, "/", {}),
                "stratus": Target(stack, "/v1/chat/completions", headers, chats),
                "stratus (stand-in)": Target(parallel, "/v1/chat/completions", headers, chats),
            }
            if baseline is not None:
                targets["baseline"] = Target(baseline, "/v1/chat/completions", headers, chats)
            for name, target in targets.items():
                run = asyncio.run(_load(target, concurrency, requests))
                results.setdefault((name, concurrency), []).append(run)

    def ttft(name: str, c: int) -> float:
        return median([median([s.ttft for s in run[0]]) for run in results[(name, c)]]) * 1000

    def total(name: str, c: int) -> float:
        return median([median([s.total for s in run[0]]) for run in results[(name, c)]]) * 1000

    def rps(name: str, c: int) -> float:
        return median([len(run[0]) / run[1] for run in results[(name, c)]])

    def cpu(name: str, c: int) -> float:
        return median([run[2] / len(run[0]) for run in results[(name, c)]]) * 1000

    rows = []
    for c in LEVELS:
        rows.append(
            [
                c,
                f"{ttft('direct', c):.1f}",
                f"{ttft('bare', c):.1f} (+{ttft('bare', c) - ttft('direct', c):.1f})",
                f"{ttft('stratus', c):.1f} (+{ttft('stratus', c) - ttft('direct', c):.1f})",
                f"{total('direct', c):.0f} / {total('stratus', c):.0f}",
                f"{rps('direct', c):.1f} / {rps('stratus', c):.1f} "
                f"({rps('stratus', c) / rps('direct', c):.2f}x)",
                f"{cpu('bare', c):.2f}",
                f"{cpu('stratus', c):.2f} ({cpu('stratus', c) / cpu('bare', c):.2f}x)",
            ]
        )
    print(
        f"\n## Chat gateway overhead: 32-token streams at {TOKEN_DELAY * 1000:.0f} ms per token, "
        f"medians of {ROUNDS} interleaved rounds"
    )
    print(
        table(
            [
                "concurrency",
                "TTFT ms direct",
                "TTFT ms bare proxy",
                "TTFT ms Stratus",
                "total ms direct / Stratus",
                "req/s direct / Stratus",
                "CPU ms/stream bare",
                "CPU ms/stream Stratus (vs bare)",
            ],
            rows,
        )
    )
    print(
        "Goals: TTFT overhead <= 5 ms p50 at concurrency 1 "
        f"(measured +{ttft('stratus', 1) - ttft('direct', 1):.1f}); >= 0.8x the direct rate "
        f"at concurrency 8 (measured {rps('stratus', 8) / rps('direct', 8):.2f}x); CPU per "
        f"stream <= 10 ms (measured {cpu('stratus', 1):.2f} at c=1, {cpu('stratus', 8):.2f} "
        f"at c=8) and <= 3x the bare floor at concurrency 8 "
        f"(measured {cpu('stratus', 8) / cpu('bare', 8):.2f}x)."
    )
    print(
        "Stratus here includes: the JWT and its session row, the model catalog, the turn saved "
        "before and after (Postgres), the registry's start and finish (DynamoDB, moto), the "
        "per-minute limit and the token budget. The direct and bare figures are the emulator "
        "itself and the bare proxy, measured in the same run."
    )
    device = "stratus (stand-in)"
    print(
        "\n### The same app against a DynamoDB that answers in parallel (a measuring device)\n"
        "A second app process, identical but for its DynamoDB endpoint: the stand-in of "
        "tests/benchmarks/dynamodb_standin.py, which applies chat's per-user state calls in "
        "memory under a lock held for microseconds (everything else goes on to moto). It is "
        "not DynamoDB; it shows what the app itself costs once moto's one-request-at-a-time "
        "queue is out of the way. Interleaved with the rows above, same rounds."
    )
    device_rows = [
        [
            c,
            f"{ttft('direct', c):.1f}",
            f"{ttft('stratus', c):.1f} (+{ttft('stratus', c) - ttft('direct', c):.1f})",
            f"{ttft(device, c):.1f} (+{ttft(device, c) - ttft('direct', c):.1f})",
            f"{rps('stratus', c) / rps('direct', c):.2f}x",
            f"{rps(device, c) / rps('direct', c):.2f}x",
            f"{cpu('stratus', c):.2f}",
            f"{cpu(device, c):.2f} ({cpu(device, c) / cpu('bare', c):.2f}x bare)",
        ]
        for c in LEVELS
    ]
    print(
        table(
            [
                "concurrency",
                "TTFT ms direct",
                "TTFT ms, moto",
                "TTFT ms, stand-in",
                "rate vs direct, moto",
                "rate vs direct, stand-in",
                "CPU ms/stream, moto",
                "CPU ms/stream, stand-in",
            ],
            device_rows,
        )
    )
    if baseline is not None:
        print(f"\n### Against the baseline checkout ({BASELINE_TREE}), same rounds, against moto")
        print(
            table(
                ["concurrency", "TTFT ms baseline", "TTFT ms this", "req/s baseline / this",
                 "CPU ms/stream baseline", "CPU ms/stream this"],
                [
                    [
                        c,
                        f"{ttft('baseline', c):.1f}",
                        f"{ttft('stratus', c):.1f}",
                        f"{rps('baseline', c):.1f} / {rps('stratus', c):.1f}",
                        f"{cpu('baseline', c):.2f}",
                        f"{cpu('stratus', c):.2f}",
                    ]
                    for c in LEVELS
                ],
            )
        )  # fmt: skip


async def _stop_once(
    stack: Server,
    other: Server,
    emulator: Server,
    headers: dict[str, str],
    chat_id: str,
    after: int,
) -> float:
    long_prompt = " ".join(f"s{i}" for i in range(300))
    body = {
        "model": "emulator-chat",
        "stream": True,
        "chat_id": chat_id,
        "messages": [{"role": "user", "content": long_prompt}],
    }
    async with httpx.AsyncClient(timeout=30) as client:
        before = (await client.get(emulator.url + "/_emulator/stats")).json()
        abandoned = before["streams"]["abandoned"]
        request = client.build_request(
            "POST", stack.url + "/v1/chat/completions", json=body, headers=headers
        )
        response = await client.send(request, stream=True)
        task_id = response.headers["x-stratus-task-id"]
        seen = 0
        async for line in response.aiter_lines():
            seen += line.startswith("data:")
            if seen >= after:
                break
        started = time.perf_counter()
        stop = await client.post(f"{other.url}/api/tasks/stop/{task_id}", headers=headers)
        stop.raise_for_status()
        while True:
            stats = (await client.get(emulator.url + "/_emulator/stats")).json()
            if stats["streams"]["abandoned"] > abandoned:
                latency = time.perf_counter() - started
                break
            if time.perf_counter() - started > 10:
                raise RuntimeError("the stop never reached the model host")
            await asyncio.sleep(0.002)
        await response.aclose()
    return latency


def _stop_latency(
    stack: Server, other: Server, emulator: Server, headers: dict[str, str], chats: list[str]
) -> None:
    # Stops land at evenly spread moments of the stream (5 to 200 tokens in): a fixed moment
    # would always meet the poller at the same phase of its interval.
    moments = [5 + (195 * i) // max(1, STOPS - 1) for i in range(STOPS)]
    latencies = [
        asyncio.run(_stop_once(stack, other, emulator, headers, chats.pop(), after))
        for after in moments
    ]
    interval = float(os.environ.get("STRATUS_CHAT_POLL_INTERVAL", "0.3"))
    print(f"\n## Stop latency: stop sent to a second app process, {STOPS} stops")
    print(
        table(
            ["poll interval s", "p50 ms", "p95 ms", "max ms"],
            [
                [
                    f"{interval:g}",
                    f"{percentile(latencies, 50) * 1000:.0f}",
                    f"{percentile(latencies, 95) * 1000:.0f}",
                    f"{max(latencies) * 1000:.0f}",
                ]
            ],
        )
    )
    print(
        "Measured from the stop request until the emulator saw the upstream connection close "
        f"(its abandoned-stream count). Goal: p95 <= 500 ms (measured "
        f"{percentile(latencies, 95) * 1000:.0f} ms). Quoted for scale, not measured here: "
        "Open WebUI's in-process stop takes about 0.1 s but needs Redis to work across replicas."
    )


def _dynamodb_calls(env: Mapping[str, str], emulator: Server, chats_per_length: int = 3) -> None:
    from tests.support.dynamodb_faults import dynamodb_faults

    with dynamodb_faults(env["AWS_ENDPOINT_URL_DYNAMODB"]) as (faults, endpoint):
        counting_env = {
            **env,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "OLLAMA_BASE_URL": emulator.url,
        }
        with (
            uvicorn_process(
                "stratus (counted)", "local.composed:create_local_app", counting_env,
                factory=True, ready="/healthz",
            ) as counted,
            httpx.Client(base_url=counted.url, timeout=60) as client,
        ):  # fmt: skip
            signin = {"email": "user@bench.test", "password": "bench-pw-2"}
            token = client.post("/api/v1/auths/signin", json=signin).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            rows = []
            for words in (30, 600):
                calls_before = faults.calls()
                durations = []
                for _ in range(chats_per_length):
                    chat_id = client.post(
                        "/api/v1/chats/new", json={"chat": {"title": "d"}}, headers=headers
                    ).json()["id"]
                    before = faults.calls()
                    started = time.perf_counter()
                    body = {
                        "model": "emulator-chat",
                        "stream": True,
                        "chat_id": chat_id,
                        "messages": [{"role": "user", "content": " ".join(["x"] * words)}],
                    }
                    client.post("/v1/chat/completions", json=body, headers=headers)
                    durations.append(time.perf_counter() - started)
                    del before
                after = faults.calls()
                per = {
                    op: (after.get(op, 0) - calls_before.get(op, 0)) / chats_per_length
                    for op in after
                }
                rows.append((words + 2, median(durations), per))
    interval = float(os.environ.get("STRATUS_CHAT_POLL_INTERVAL", "0.3"))
    print("\n## DynamoDB calls per generation (counted at a proxy in front of moto)")
    printable = []
    for tokens, duration, per in rows:
        writes = per.get("UpdateItem", 0) + per.get("PutItem", 0)
        reads = per.get("GetItem", 0) + per.get("BatchGetItem", 0)
        printable.append(
            [tokens, f"{duration:.2f}", f"{writes:.1f}", f"{reads:.1f}", f"{writes + reads:.1f}"]
        )
    print(
        table(
            ["tokens", "duration s", "writes (start, finish)", "reads (stop polls)", "total"],
            printable,
        )
    )
    short_writes = rows[0][2].get("UpdateItem", 0) + rows[0][2].get("PutItem", 0)
    cost_writes = 1000 * short_writes * WRITE_PRICE / 1e6
    polls_per_chat = 30 / interval
    cost_reads = 1000 * polls_per_chat * READ_PRICE / 1e6
    print(
        f"Cost per 1,000 chats of 30 s each at on-demand prices: {short_writes:.0f} writes x "
        f"1,000 x ${WRITE_PRICE}/M = ${cost_writes:.5f}, plus 30 s / {interval:g} s = "
        f"{polls_per_chat:.0f} strongly consistent reads (1 read unit each, items < 4 KB) x "
        f"1,000 x ${READ_PRICE}/M = ${cost_reads:.5f}; total ${cost_writes + cost_reads:.5f}. "
        "Writes are 1 write unit each while the user's item stays under 1 KB."
    )


def _relay_cost(
    stack: Server, bare: Server, headers: dict[str, str], baseline: Server | None
) -> None:
    """CPU per relayed token on long answers (no ``chat_id``: the relay, not the saved turn),
    against the bare proxy and, with ``BENCH_CHAT_BASELINE_TREE``, the baseline checkout."""
    prompt = " ".join(f"w{i}" for i in range(RELAY_TOKENS - 2))  # "You said:" + words
    targets = {
        "bare proxy": Target(bare, "/", {}, prompt=prompt),
        "stratus": Target(stack, "/v1/chat/completions", headers, prompt=prompt),
    }
    if baseline is not None:
        targets["baseline checkout"] = Target(
            baseline, "/v1/chat/completions", headers, prompt=prompt
        )
    per_token: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, target in targets.items():
            samples, _, cpu = asyncio.run(_load(target, RELAY_CONCURRENCY, RELAY_STREAMS))
            per_token[name].append(cpu / (len(samples) * RELAY_TOKENS) * 1e6)
    floor = median(per_token["bare proxy"])
    rows = [
        [name, f"{median(values):.0f}", f"{median(values) / floor:.2f}x"]
        for name, values in per_token.items()
    ]
    print(
        f"\n## Relay cost: {RELAY_STREAMS} answers of {RELAY_TOKENS} tokens at "
        f"{TOKEN_DELAY * 1000:.0f} ms per token, {RELAY_CONCURRENCY} at a time, medians of "
        f"{ROUNDS} interleaved rounds (server CPU, user + system)"
    )
    print(table(["server", "CPU us per token", "vs bare proxy"], rows))


def main() -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    # moto's request log would drown the tables.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with backing_services() as env, emulator_process() as emulator, ExitStack() as stack:
        app_env = {**env, "OLLAMA_BASE_URL": emulator.url}
        gateway = stack.enter_context(
            uvicorn_process(
                "stratus", "local.composed:create_local_app", app_env, factory=True,
                ready="/healthz",
            )
        )  # fmt: skip
        bare = stack.enter_context(
            uvicorn_process(
                "bare proxy", "tests.benchmarks.bare_proxy:app", {"BARE_UPSTREAM": emulator.url}
            )
        )
        # One chat per saved turn: each round's warm-up (one per concurrent client), its
        # requests, then the stops.
        # Two Stratus targets (moto, and the stand-in) per round, three with a baseline.
        targets = 3 if BASELINE_TREE else 2
        turns = targets * ROUNDS * sum(c + n for c, n in LEVELS.items()) + STOPS
        headers, chats = _accounts(gateway.url, turns)
        baseline = None
        if BASELINE_TREE and PARTS & {"overhead", "relay"}:
            baseline = stack.enter_context(
                uvicorn_process(
                    "stratus (baseline)", "local.composed:create_local_app", app_env,
                    factory=True, ready="/healthz", root=Path(BASELINE_TREE),
                )
            )  # fmt: skip
        if "overhead" in PARTS:
            standin = stack.enter_context(standin_process(env["AWS_ENDPOINT_URL_DYNAMODB"]))
            parallel = stack.enter_context(
                uvicorn_process(
                    "stratus (stand-in)", "local.composed:create_local_app",
                    {**app_env, "AWS_ENDPOINT_URL_DYNAMODB": standin}, factory=True,
                    ready="/healthz",
                )
            )  # fmt: skip
            _overhead(gateway, bare, emulator, headers, chats, parallel, baseline)
        if "timeline" in PARTS:
            from tests.benchmarks.ttft_timeline import ttft_timeline

            ttft_timeline(env, emulator, headers)
        if "relay" in PARTS:
            _relay_cost(gateway, bare, headers, baseline)
        other = stack.enter_context(
            uvicorn_process(
                "stratus (second)", "local.composed:create_local_app", app_env, factory=True,
                ready="/healthz",
            )
        )  # fmt: skip
        if "stop" in PARTS:
            _stop_latency(gateway, other, emulator, headers, chats)
        if "dynamodb" in PARTS:
            _dynamodb_calls(env, emulator)
