"""Auth costs: sign-in latency (mostly the argon2id hash) and the CPU cost of authenticating one
request, with a JWT and with an API key, against the same no-op route with auth removed.

Everything runs in this process against its own embedded Postgres and moto server. Requests go
straight into the ASGI app (no HTTP client), so the per-request CPU difference between the
protected and the public no-op route is the guard's cost: header parsing, token or key checks,
and the one Postgres lookup that resolves the live user. Postgres's own CPU is not counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from litestar import Litestar, get

from tests.benchmarks.stats import median, percentile, table

ROUNDS = int(os.environ.get("BENCH_AUTH_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_AUTH_REQUESTS", "300"))
SIGNINS = int(os.environ.get("BENCH_AUTH_SIGNINS", "30"))
SECRET = "bench-auth-signing-key-3c1f9e7a5b2d4c6e8f0a1b3d5e7f9a2c"
EMAIL, PASSWORD = "bench@example.test", "bench-password-1234"


def _app() -> Litestar:
    from functions.auth.app import route_handlers
    from stratus.web.access import Access, access
    from stratus.web.plugin import StratusPlugin

    @get("/bench/public", opt=access(Access.PUBLIC), sync_to_thread=False)
    def public_noop() -> dict[str, bool]:
        return {"ok": True}

    @get("/bench/user", opt=access(Access.USER), sync_to_thread=False)
    def user_noop() -> dict[str, bool]:
        return {"ok": True}

    return Litestar(
        route_handlers=[*route_handlers(), public_noop, user_noop],
        plugins=[StratusPlugin(service="bench", readiness=())],
    )


async def _call(
    app: Litestar, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.10", 50000),
        "server": ("bench", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _json(app: Litestar, path: str, payload: dict[str, Any], headers: dict[str, str]) -> Any:
    status, body = await _call(
        app,
        "POST",
        path,
        {"content-type": "application/json", **headers},
        json.dumps(payload).encode(),
    )
    assert status in {200, 201}, body
    return json.loads(body)


async def _signins(app: Litestar) -> list[float]:
    timings = []
    for _ in range(SIGNINS):
        started = time.perf_counter()
        await _json(app, "/api/v1/auths/signin", {"email": EMAIL, "password": PASSWORD}, {})
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _hash_alone(parameters: Any) -> list[float]:
    from stratus.auth.passwords import Passwords

    hasher = Passwords(parameters)._hasher
    stored = hasher.hash(PASSWORD)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _cpu_per_request(
    app: Litestar, path: str, headers: dict[str, str]
) -> tuple[float, float]:
    """(CPU ms per request, wall ms per request) over one batch."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(REQUESTS):
        status, _ = await _call(app, "GET", path, headers)
        assert status == 200, status
    return (
        (time.process_time() - cpu) * 1000 / REQUESTS,
        (time.perf_counter() - wall) * 1000 / REQUESTS,
    )


async def _measure() -> None:
    from stratus.auth.passwords import Argon2Parameters
    from stratus.db import close_pool
    from stratus.settings import auth_settings

    app = _app()
    session = await _json(
        app, "/api/v1/auths/signup", {"name": "Bench", "email": EMAIL, "password": PASSWORD}, {}
    )
    token = session["token"]
    key = (
        await _json(
            app, "/api/v1/auths/api_keys", {"name": "bench"}, {"authorization": f"Bearer {token}"}
        )
    )["key"]
    signins = await _signins(app)

    variants = {
        "no auth (public)": ("/bench/public", {}),
        "JWT": ("/bench/user", {"authorization": f"Bearer {token}"}),
        "API key": ("/bench/user", {"x-api-key": key}),
    }
    for path, headers in variants.values():  # warm-up: pool, caches, code paths
        await _cpu_per_request(app, path, headers)
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, (path, headers) in variants.items():
            c, w = await _cpu_per_request(app, path, headers)
            cpu[name].append(c)
            wall[name].append(w)
    await close_pool()

    params = Argon2Parameters.from_settings(auth_settings())
    floor = Argon2Parameters(time_cost=2, memory_kib=19 * 1024, parallelism=1)
    hashes = {f"hash verify only, {p.describe()}": _hash_alone(p) for p in (params, floor)}
    print(f"\n## Auth ({params.describe()}; {ROUNDS} rounds x {REQUESTS} requests per variant)")
    print(
        table(
            ["measure", "p50 ms", "p95 ms"],
            [
                [
                    "sign-in through the app",
                    f"{median(signins):.1f}",
                    f"{percentile(signins, 95):.1f}",
                ],
                *[[n, f"{median(t):.1f}", f"{percentile(t, 95):.1f}"] for n, t in hashes.items()],
            ],
        )
    )
    base = median(cpu["no auth (public)"])
    rows = []
    for name in variants:
        overhead = median(cpu[name]) - base
        rows.append(
            [
                name,
                f"{median(cpu[name]):.3f}",
                "-" if name.startswith("no auth") else f"{overhead:.3f}",
                f"{median(wall[name]):.3f}",
            ]
        )
    print(table(["no-op GET", "CPU ms/req", "auth CPU ms/req", "wall ms/req"], rows))
    print("goal: auth CPU <= 1.5 ms/request; Open WebUI signin p50 ~400 ms (bcrypt 12) here")


def main() -> None:
    from stratus.ephemeral.table import create_table
    from stratus.migrations import apply_migrations
    from tests.support.services import embedded_postgres, moto_server, patched_environ

    # moto's server logs every request it serves; the figures are what this prints.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="stratus-bench-auth-") as scratch:
        data = Path(scratch)
        with embedded_postgres(data / "pgdata") as url, moto_server() as moto:
            apply_migrations(url)
            env = {
                "DATABASE_URL": url,
                "STRATUS_DATA_DIR": str(data),
                "STRATUS_DYNAMODB_TABLE": "bench-auth",
                "WEBUI_SECRET_KEY": SECRET,
                "LOG_LEVEL": "WARNING",
                **moto.env(),
            }
            # Production argon2 parameters: any test-speed overrides are removed.
            remove = ("STRATUS_DEV_MODE", "STRATUS_ARGON2_TIME_COST", "STRATUS_ARGON2_MEMORY_KIB")
            with patched_environ(env, remove=(*remove, "STRATUS_ARGON2_PARALLELISM")):
                create_table()
                asyncio.run(_measure())


if __name__ == "__main__":
    main()
