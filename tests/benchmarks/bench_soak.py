"""Soak: 64 concurrent chat streams for a long time against the local stack and the emulator.

The app runs as in the chat benchmark (the composed app under uvicorn, embedded Postgres, moto's
DynamoDB in its own process, the model-host emulator), and so does the load: 64 clients, each
streaming turn after turn into a chat of its own, every turn saved. ``BENCH_SOAK_SECONDS`` sets
the duration (600 by default: ten minutes; use 30-60 while developing), ``BENCH_SOAK_STREAMS``
the concurrency.

What it checks and prints, after a warm-up of a tenth of the run (at least 10 s):
- no 5xx (and what other statuses came back);
- every turn saved: each chat holds exactly the answers its client received, all ``complete``;
- the app's resident memory after the warm-up and at the end: growth under 10%;
- no leaked connections: Postgres backends, the app's sockets and open files after the
  warm-up and after the load (once idle), each no higher at the end;
- CPU per stream stable: the app's CPU per completed stream in each tenth of the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil

from tests.benchmarks.bench_chat import (
    PROMPT,
    backing_services,
    emulator_process,
    uvicorn_process,
)
from tests.benchmarks.stats import table

SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
STREAMS = int(os.environ.get("BENCH_SOAK_STREAMS", "64"))
WINDOWS = 10


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)
    saved_by_chat: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # (monotonic time, app CPU seconds, streams completed so far)
    samples: list[tuple[float, float, int]] = field(default_factory=list)
    completed: int = 0


@dataclass
class Snapshot:
    rss_mb: float
    sockets: int
    fds: int
    backends: int

    def row(self, name: str) -> list[Any]:
        return [name, f"{self.rss_mb:.1f}", self.backends, self.sockets, self.fds]


def _snapshot(process: psutil.Process, database_url: str) -> Snapshot:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return Snapshot(
        rss_mb=process.memory_info().rss / 2**20,
        sockets=len(process.net_connections(kind="inet")),
        fds=process.num_fds(),
        backends=int(row[0]) if row else 0,
    )


async def _client(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    chat_id: str,
    until: float,
    tally: Tally,
) -> None:
    body = json.dumps(
        {
            "model": "emulator-chat",
            "stream": True,
            "chat_id": chat_id,
            "messages": [{"role": "user", "content": PROMPT}],
        }
    ).encode()
    while time.monotonic() < until:
        try:
            async with session.post(url, data=body, headers=headers) as response:
                tally.statuses[response.status] = tally.statuses.get(response.status, 0) + 1
                if response.status != 200:
                    tally.errors.append(f"{response.status} {(await response.text())[:200]}")
                    await asyncio.sleep(0.5)
                    continue
                done = False
                async for line in response.content:
                    done = done or line.startswith(b"data: [DONE]")
            if done:
                tally.saved_by_chat[chat_id] = tally.saved_by_chat.get(chat_id, 0) + 1
                tally.completed += 1
            else:
                tally.errors.append("a stream ended without [DONE]")
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.errors.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.5)


async def _sampler(process: psutil.Process, until: float, tally: Tally) -> None:
    step = SECONDS / WINDOWS
    while True:
        times = process.cpu_times()
        tally.samples.append((time.monotonic(), times.user + times.system, tally.completed))
        if time.monotonic() >= until:
            return
        await asyncio.sleep(min(step, max(0.0, until - time.monotonic())))


async def _soak(
    url: str, headers: dict[str, str], chats: list[str], process: psutil.Process, until: float
) -> Tally:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        target = url + "/v1/chat/completions"
        await asyncio.gather(
            _sampler(process, until, tally),
            *(_client(session, target, headers, chat, until, tally) for chat in chats),
        )
    return tally


def _saved(database_url: str, chats: list[str]) -> dict[str, tuple[int, int]]:
    """Per chat: its answers marked complete, and all its answers."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT chat_id, count(*) FILTER (WHERE status = 'complete'), count(*) "
            "FROM messages WHERE role = 'assistant' AND chat_id = ANY(%s) GROUP BY chat_id",
            (chats,),
        ).fetchall()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def main() -> None:
    from tests.benchmarks.bench_chat import LOG_DIR, _accounts

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    warmup = max(10.0, SECONDS / 10)
    with backing_services() as env, emulator_process() as emulator:
        app_env = {**env, "OLLAMA_BASE_URL": emulator.url}
        with uvicorn_process(
            "stratus (soak)", "local.composed:create_local_app", app_env, factory=True,
            ready="/healthz",
        ) as app:  # fmt: skip
            process = psutil.Process(app.process.pid)
            auth, chats = _accounts(app.url, STREAMS)
            headers = {**auth, "content-type": "application/json"}
            # Warm-up: the same load, so pools, caches and allocator arenas reach their size.
            warm = asyncio.run(_soak(app.url, headers, chats, process, time.monotonic() + warmup))
            time.sleep(2)
            before = _snapshot(process, env["DATABASE_URL"])
            started = time.monotonic()
            tally = asyncio.run(_soak(app.url, headers, chats, process, time.monotonic() + SECONDS))
            elapsed = time.monotonic() - started
            time.sleep(2)  # idle: finishing writes done, keep-alive connections settled
            after = _snapshot(process, env["DATABASE_URL"])
            saved = _saved(env["DATABASE_URL"], chats)
    _report(warm, tally, before, after, saved, elapsed)


def _report(
    warm: Tally,
    tally: Tally,
    before: Snapshot,
    after: Snapshot,
    saved: dict[str, tuple[int, int]],
    elapsed: float,
) -> None:
    received = Counter(warm.saved_by_chat) + Counter(tally.saved_by_chat)
    unsaved = sum(max(0, n - saved.get(c, (0, 0))[0]) for c, n in received.items())
    not_complete = sum(total - complete for complete, total in saved.values())
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    growth = (after.rss_mb - before.rss_mb) / before.rss_mb
    windows = []
    for (t0, cpu0, n0), (t1, cpu1, n1) in zip(tally.samples, tally.samples[1:], strict=False):
        if n1 > n0:
            windows.append(((t1 - t0), (cpu1 - cpu0) * 1000 / (n1 - n0), n1 - n0))
    print(
        f"\n## Soak: {STREAMS} concurrent streams for {elapsed:.0f} s (after a warm-up of "
        f"{sum(warm.statuses.values())} turns), local stack (embedded Postgres, moto) and the "
        "emulator"
    )
    print(
        table(
            ["measure", "value"],
            [
                ["turns completed", tally.completed],
                ["completions per second", f"{tally.completed / elapsed:.1f}"],
                ["statuses", ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))],
                ["5xx", server_errors],
                ["client-side errors", len(tally.errors)],
                ["turns received but not saved complete", unsaved],
                ["answers in the chats not complete", not_complete],
            ],
        )
    )
    if tally.errors:
        print("First errors: " + "; ".join(tally.errors[:5]))
    print(
        table(
            ["when", "RSS MB", "Postgres backends", "app sockets", "app open files"],
            [before.row("after warm-up"), after.row("after the run, idle")],
        )
    )
    print(
        table(
            ["tenth of the run", "seconds", "streams", "app CPU ms/stream"],
            [[i + 1, f"{s:.0f}", n, f"{c:.2f}"] for i, (s, c, n) in enumerate(windows)],
        )
    )
    if windows:
        cpus = [c for _, c, _ in windows]
        spread = max(cpus) / min(cpus)
        print(
            f"Goals: no 5xx ({server_errors}); every turn saved ({unsaved} not); RSS growth "
            f"< 10% after warm-up ({growth * 100:+.1f}%); no connection leaks (backends "
            f"{before.backends} -> {after.backends}, sockets {before.sockets} -> "
            f"{after.sockets}, files {before.fds} -> {after.fds}); CPU per stream stable "
            f"(first tenth {cpus[0]:.2f} ms, last {cpus[-1]:.2f} ms, max/min {spread:.2f})."
        )
