"""Cold start with real first requests, against a bare floor measured in the same run.

Every sample is a fresh process with real services configured: embedded Postgres (migrated),
moto's DynamoDB, and for chat the model-host emulator (no token delay). Production settings:
argon2id's defaults, Lambda's pool of one connection, a strong signing secret. Each function
serves a realistic event:

- auth: the recorded sign-in (Postgres, DynamoDB, argon2id), and a protected GET with a JWT;
- rag: a protected route that reads Postgres (``RAG_ROUTES``; ``/readyz`` while rag has none);
- chat: an authenticated streamed completion through ``run.sh``'s uvicorn command, timed to its
  first byte.

Floors, interleaved with the functions: a bare Litestar+Mangum hello serving one event
(``hello_handler.py``), and for chat the same hello app under the same uvicorn command. Ratios
divide like by like. Everything runs in a layer-only virtualenv built from ``layers/deps/
requirements.txt`` (cached under ``build/``), then in the dev one.

Figures, medians across runs:
- init: Mangum, importing the handler module in the child; Web Adapter, from spawning the
  process to the first 200 on ``/healthz`` (the adapter's readiness check), polled every 2 ms;
- first event: right after init (Web Adapter: to the first body byte, on a new connection);
- warm: the median of the same event repeated in the same process;
- cold penalty: init + first event - warm; post-init penalty: first event - warm (what a
  SnapStart restore or a provisioned environment sees);
- after restore: the runtime's SnapStart hooks run (Web Adapter: the adapter's POSTs), then the
  event once more; restore hooks: how long the after-restore hooks took;
- memory: resident after the first event, and the process's peak by then.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.processes import wait_http
from tests.benchmarks.stats import median, table
from tests.support.cold_start import (
    RAG_ROUTES,
    REPO,
    RUN_SH,
    Server,
    function_env,
    recorded_event,
    run_handler,
    server_process,
    web_adapter_command,
    with_path,
    with_token,
)

RUNS = int(os.environ.get("BENCH_COLD_RUNS", "5"))
WARM = int(os.environ.get("BENCH_COLD_WARM", "5"))
VENVS = [v for v in os.environ.get("BENCH_COLD_VENVS", "layer,dev").split(",") if v]
LOG_DIR = REPO / "build" / "bench-logs"
SECRET = "bench-cold-start-signing-key-9d2f6a1c4e7b3a5d8c0f"
# The goals (issue 9): measured figures are compared with these, in the layer-only virtualenv.
GOAL_RATIO, GOAL_POST_INIT_MS = 2.0, 50.0


# -- the environment: services, the account, virtualenvs -----------------------------------------


def layer_python() -> Path:
    """A virtualenv with exactly the Lambda dependency layer, rebuilt when the layer changes."""
    requirements = REPO / "layers" / "deps" / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    venv = REPO / "build" / "bench-venvs" / f"layer-{digest}"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        print(f"(building the layer-only virtualenv {venv.relative_to(REPO)}: about a minute)")
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            # --no-deps: exactly the layer's pins, which leave some requirements out on purpose.
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(requirements)],
            check=True,
        )
        (venv / ".installed").write_text(digest)
    return python


@contextmanager
def _child(name: str, args: list[str], ready: str) -> Iterator[str]:
    from local.children import free_port

    port = free_port()
    with (LOG_DIR / f"cold-{name}.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *args, "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + ready, process, name)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def services() -> Iterator[dict[str, str]]:
    """Postgres, moto and the emulator; yields the environment a deployed function would have."""
    from stratus.ephemeral.table import create_table
    from stratus.migrations import apply_migrations
    from tests.support.services import aws_env, embedded_postgres, patched_environ, server_data_dir

    with ExitStack() as stack:
        scratch = stack.enter_context(server_data_dir("stratus-bench-cold-"))
        database_url = stack.enter_context(embedded_postgres(scratch / "pgdata"))
        apply_migrations(database_url)
        moto = stack.enter_context(_child("moto", ["local.atomic_moto"], "/moto-api/"))
        emulator = stack.enter_context(
            _child("emulator", ["local.emulator", "--token-delay", "0"], "/api/version")
        )
        env = {
            "DATABASE_URL": database_url,
            "STRATUS_DATA_DIR": str(scratch / "data"),
            "STRATUS_DYNAMODB_TABLE": "stratus-bench-cold",
            "OLLAMA_BASE_URL": emulator,
            "WEBUI_SECRET_KEY": SECRET,
            "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            # As in Lambda: one connection per environment, checked on checkout.
            "AWS_LAMBDA_FUNCTION_NAME": "stratus-bench",
            # The limits stay on, high enough never to refuse.
            "STRATUS_RATE_LIMIT_RPM": "1000000",
            "STRATUS_DAILY_TOKEN_BUDGET": "1000000000",
            **aws_env(moto),
        }
        stack.enter_context(patched_environ(env))
        create_table()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "OLLAMA_"))}
        yield {**base, **env}


def sign_up(python: Path, env: dict[str, str]) -> str:
    """The recorded sign-in's account (the first one: an admin), through the auth handler."""
    event = recorded_event("auth_signin_http_v2")
    body = json.loads(event["body"]) | {"name": "Lambda User"}
    run = run_handler(
        python,
        "functions.auth.handler",
        with_path(event, "/api/v1/auths/signup", json.dumps(body)),
        env,
    )
    if run["first_status"] != 200:
        raise RuntimeError(f"sign-up failed: {run['first_body']}")
    token: str = run.body()["token"]
    return token


def rag_route() -> str:
    from functions.rag.app import create_app

    paths = {route.path.rstrip("/") for route in create_app().routes}
    return next((r for r in RAG_ROUTES if r.rstrip("/") in paths), "/readyz")


# -- one sample per target -----------------------------------------------------------------------


@dataclass
class Sample:
    init: float
    first: float
    warm: float
    after_restore: float
    restore: float
    rss_mb: float
    peak_mb: float

    @property
    def cold_penalty(self) -> float:
        return self.init + self.first - self.warm

    @property
    def post_init(self) -> float:
        return self.first - self.warm


def mangum_sample(python: Path, module: str, event: dict[str, Any], env: dict[str, str]) -> Sample:
    run = run_handler(python, module, event, env, warm=WARM, restore=True)
    statuses = {run["first_status"], *run["warm_status"], run["after_restore_status"]}
    if statuses != {200}:
        raise RuntimeError(f"{module}: {statuses}: {run['first_body']}")
    return Sample(
        init=run["init_ms"],
        first=run["first_ms"],
        warm=median(run["warm_ms"]),
        after_restore=run["after_restore_ms"],
        restore=run["restore_ms"],
        rss_mb=run["rss_mb"],
        peak_mb=run["peak_mb"],
    )


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, server: Server) -> float:
        answer = server.request(self.method, self.path, self.body, self.headers)
        if answer.status != 200:
            raise RuntimeError(f"{self.path}: {answer.status} {answer.body[:300]!r}")
        return answer.first_byte_ms


def web_adapter_sample(
    python: Path, name: str, app: str | None, request: WebRequest, env: dict[str, str]
) -> Sample:
    """``run.sh`` itself (``app`` None), or its uvicorn command serving ``app``."""
    from local.children import free_port
    from stratus.web.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH

    port = free_port()
    command = ["/bin/sh", str(RUN_SH)] if app is None else web_adapter_command(port, app)
    log = LOG_DIR / f"cold-{name}.log"
    with server_process(command, function_env(env, python), port, log=log) as server:
        init = server.wait_ready()
        first = request.send(server)
        rss_mb, peak_mb = server.memory_mb()
        warm = median([request.send(server) for _ in range(WARM)])
        restore = after_restore = float("nan")
        if name == "chat":
            server.request("POST", BEFORE_CHECKPOINT_PATH, b"")
            started = time.perf_counter()
            if server.request("POST", AFTER_RESTORE_PATH, b"").status != 204:
                raise RuntimeError("chat's after-restore hook failed")
            restore = (time.perf_counter() - started) * 1000
            after_restore = request.send(server)
    return Sample(init, first, warm, after_restore, restore, rss_mb, peak_mb)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    floor: str | None  # the floor it is divided by; None for a floor
    take: Callable[[], Sample]
    samples: list[Sample] = field(default_factory=list)

    def med(self, what: Callable[[Sample], float]) -> float:
        return median([what(s) for s in self.samples])


def targets(python: Path, env: dict[str, str], token: str, rag: str) -> list[Target]:
    auth_me = with_token(recorded_event("auth_me_http_v2"), token)
    completion = json.dumps(
        {
            "model": "emulator-chat",
            "stream": True,
            "messages": [{"role": "user", "content": "Say something short."}],
        }
    ).encode()
    chat_request = WebRequest(
        "POST",
        "/v1/chat/completions",
        completion,
        {"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    hello_event = recorded_event("http_v2_healthz")
    mangum_floor, uvicorn_floor = (
        "floor: hello, Litestar + Mangum",
        "floor: hello, run.sh's uvicorn",
    )

    def mangum(module: str, event: dict[str, Any]) -> Callable[[], Sample]:
        return lambda: mangum_sample(python, module, event, env)

    def web(name: str, app: str | None, request: WebRequest) -> Callable[[], Sample]:
        return lambda: web_adapter_sample(python, name, app, request, env)

    return [
        Target(mangum_floor, None, mangum("tests.benchmarks.hello_handler", hello_event)),
        Target(
            "auth: sign-in",
            mangum_floor,
            mangum("functions.auth.handler", recorded_event("auth_signin_http_v2")),
        ),
        Target(
            "auth: GET /api/v1/auths/ (JWT)",
            mangum_floor,
            mangum("functions.auth.handler", auth_me),
        ),
        Target(
            f"rag: GET {rag} (JWT)",
            mangum_floor,
            mangum("functions.rag.handler", with_path(auth_me, rag)),
        ),
        Target(
            uvicorn_floor,
            None,
            web("hello", "tests.benchmarks.hello_app:app", WebRequest("GET", "/healthz")),
        ),
        Target(
            "chat: streamed completion, to 1st byte", uvicorn_floor, web("chat", None, chat_request)
        ),
    ]


def report(venv: str, runs: list[Target]) -> None:
    by_name = {t.name: t for t in runs}
    rows = []
    for target in runs:
        floor = by_name[target.floor] if target.floor else target
        ratio = target.med(lambda s: s.cold_penalty) / floor.med(lambda s: s.cold_penalty)
        restore = target.med(lambda s: s.restore)
        rows.append(
            [
                target.name,
                f"{target.med(lambda s: s.init):.0f}",
                f"{target.med(lambda s: s.first):.1f}",
                f"{target.med(lambda s: s.warm):.1f}",
                f"{target.med(lambda s: s.cold_penalty):.0f}",
                f"**{ratio:.2f}x**" if target.floor else "1.00x",
                f"{target.med(lambda s: s.post_init):.1f}",
                "-" if restore != restore else f"{restore:.1f}",
                "-"
                if restore != restore
                else f"{target.med(lambda s: s.after_restore - s.warm):.1f}",
                f"{target.med(lambda s: s.rss_mb):.0f} ({target.med(lambda s: s.peak_mb):.0f})",
            ]
        )
    print(f"\n### {venv}\n")
    print(
        table(
            [
                "target, event",
                "init ms",
                "1st event ms",
                "warm ms",
                "cold penalty ms",
                "vs its floor",
                "post-init penalty ms",
                "restore hooks ms",
                "after-restore penalty ms",
                "MB after 1st event (peak)",
            ],
            rows,
        )
    )
    if venv.startswith("layer"):
        print()
        for target in runs:
            if target.floor is None:
                continue
            floor = by_name[target.floor]
            ratio = target.med(lambda s: s.cold_penalty) / floor.med(lambda s: s.cold_penalty)
            post = target.med(lambda s: s.post_init)
            print(
                f"- {target.name}: cold penalty {ratio:.2f}x its floor (goal <= {GOAL_RATIO:g}x: "
                f"{_verdict(ratio <= GOAL_RATIO)}), post-init penalty {post:.1f} ms "
                f"(goal <= {GOAL_POST_INIT_MS:g} ms: {_verdict(post <= GOAL_POST_INIT_MS)})"
            )


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


# What each driver adds to an init: (already imported, timed), on top of Litestar and Mangum
# (the floor's imports). The DynamoDB client is built as init builds it.
DRIVERS = {
    "psycopg + psycopg_pool (auth, chat, rag)": ("", "import psycopg, psycopg_pool"),
    "botocore (auth, chat)": ("", "import botocore.session, botocore.client"),
    "pynamodb (auth, chat)": ("import botocore.session, botocore.client", "import pynamodb.models"),
    "the DynamoDB client, built (auth, chat)": (
        "import asyncio, pynamodb.models; from stratus.ephemeral.table import prepare_table",
        "asyncio.run(prepare_table())",
    ),
    "aiohttp (chat, rag)": ("", "import aiohttp"),
    "aws_lambda_powertools (every function)": ("", "from aws_lambda_powertools import Logger"),
    "argon2 + PyJWT (argon2: auth)": ("", "import argon2, jwt"),
}
_DRIVER_CHILD = """
import gc, sys, time
import litestar, mangum
exec(sys.argv[1])
gc.disable()
wall, cpu = time.perf_counter(), time.process_time()
exec(sys.argv[2])
print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
"""


def driver_costs(python: Path, env: dict[str, str]) -> None:
    """Each driver's import (and the DynamoDB client's build) in fresh processes, interleaved,
    with the garbage collector off as in init."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in DRIVERS}
    child_env = function_env(env, python)
    for _ in range(RUNS):
        for name, (setup, timed) in DRIVERS.items():
            out = subprocess.run(
                [str(python), "-c", _DRIVER_CHILD, setup, timed],
                cwd=REPO,
                env=child_env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            samples[name].append((float(out[-2]), float(out[-1])))
    rows = [
        [name, f"{median([w for w, _ in s]):.0f}", f"{median([c for _, c in s]):.0f}"]
        for name, s in samples.items()
    ]
    print("\nWhat each driver adds to init, on top of Litestar and Mangum (layer-only virtualenv):")
    print(table(["driver", "wall ms", "CPU ms"], rows))


def main() -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    pythons = {
        "layer-only virtualenv (layers/deps/requirements.txt)": layer_python()
        if "layer" in VENVS
        else None,
        "dev virtualenv (requirements/dev.lock)": Path(sys.executable) if "dev" in VENVS else None,
    }
    with services() as env:
        token = sign_up(Path(sys.executable), env)
        rag = rag_route()
        print(
            f"\n## Cold start with real first requests (median of {RUNS} fresh processes per "
            f"target, interleaved with the floors; warm = median of {WARM} repeats)"
        )
        for venv, python in pythons.items():
            if python is None:
                continue
            runs = targets(python, env, token, rag)
            for _ in range(RUNS):
                for target in runs:
                    target.samples.append(target.take())
            report(venv, runs)
            if venv.startswith("layer"):
                driver_costs(python, env)
