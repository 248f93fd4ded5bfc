"""Cold start per function, against a bare Litestar+Mangum hello-world measured in the same run.

Mangum functions (auth, rag): a fresh Python process imports the handler and serves one recorded
API Gateway event; we time import (Lambda's init) plus the first response inside the child, and
the whole process from the parent. Chat: from spawning ``run.sh`` to the first 200 on the
readiness path, polled as the Lambda Web Adapter polls it; its floor is the hello app under the
same uvicorn command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from local.children import free_port
from tests.benchmarks.stats import median, table

REPO = Path(__file__).resolve().parents[2]
EVENT = REPO / "tests" / "events" / "http_v2_healthz.json"
RUNS = int(os.environ.get("BENCH_RUNS", "7"))

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import importlib
handler = importlib.import_module(sys.argv[1]).handler
t1 = time.perf_counter()
from local.lambda_context import LocalLambdaContext
event = json.load(open(sys.argv[2]))
result = handler(event, LocalLambdaContext(function_name="bench"))
t2 = time.perf_counter()
assert result["statusCode"] == 200, result
print(json.dumps({"init_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000}))
"""


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{REPO / 'layers' / 'stratus' / 'python'}"
    env["POWERTOOLS_METRICS_NAMESPACE"] = "Bench"
    # The auth function refuses to start without a strong signing secret, as in production.
    env.setdefault("WEBUI_SECRET_KEY", "bench-cold-start-signing-key-9d2f6a1c4e7b3a5d8c0f")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def mangum_cold_start(module: str) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, module, str(EVENT)],
        env=_child_env(),
        cwd=REPO,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    wall_ms = (time.perf_counter() - started) * 1000
    timings: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    timings["init_plus_first_ms"] = timings["init_ms"] + timings["first_ms"]
    timings["process_ms"] = wall_ms
    return timings


def uvicorn_cold_start(command: list[str]) -> float:
    port = free_port()
    env = {**_child_env(), "AWS_LWA_PORT": str(port), "PORT": str(port)}
    started = time.perf_counter()
    process = subprocess.Popen(
        [c.replace("{port}", str(port)) for c in command],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        with httpx.Client(timeout=0.5) as client:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        return (time.perf_counter() - started) * 1000
                except httpx.HTTPError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError(f"{command} exited early")
                time.sleep(0.005)
    finally:
        process.terminate()
        process.wait(10)


HELLO_UVICORN = [
    sys.executable, "-m", "uvicorn", "tests.benchmarks.hello_app:app",
    "--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--lifespan", "on",
]  # fmt: skip
CHAT_RUN_SH = ["/bin/sh", str(REPO / "functions" / "chat" / "run.sh")]


def main() -> None:
    print(f"\n## Cold start (median of {RUNS} fresh processes each)\n")
    targets = {
        "hello (Litestar+Mangum floor)": "tests.benchmarks.hello_app",
        "auth": "functions.auth.handler",
        "rag": "functions.rag.handler",
    }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    uvicorn_samples: dict[str, list[float]] = {"hello under uvicorn": [], "chat (run.sh)": []}
    # Interleave the targets so machine noise hits each of them alike.
    for _ in range(RUNS):
        for name, module in targets.items():
            samples[name].append(mangum_cold_start(module))
        uvicorn_samples["hello under uvicorn"].append(uvicorn_cold_start(HELLO_UVICORN))
        uvicorn_samples["chat (run.sh)"].append(uvicorn_cold_start(CHAT_RUN_SH))

    floor = median([s["init_plus_first_ms"] for s in samples["hello (Litestar+Mangum floor)"]])
    rows = []
    for name, runs in samples.items():
        first = median([s["init_plus_first_ms"] for s in runs])
        rows.append(
            [
                name,
                f"{median([s['init_ms'] for s in runs]):.0f}",
                f"{median([s['first_ms'] for s in runs]):.1f}",
                f"{first:.0f}",
                f"{median([s['process_ms'] for s in runs]):.0f}",
                f"{first / floor:.2f}x",
            ]
        )
    headers = ["target", "init ms", "1st event ms", "init+1st ms", "process ms", "vs floor"]
    print(table(headers, rows))
    uv_floor = median(uvicorn_samples["hello under uvicorn"])
    uv_rows = [
        [name, f"{median(v):.0f}", f"{median(v) / uv_floor:.2f}x", f"{median(v) / floor:.2f}x"]
        for name, v in uvicorn_samples.items()
    ]
    print()
    print(
        table(["web adapter path", "spawn to 1st 200 ms", "vs hello uvicorn", "vs floor"], uv_rows)
    )
    print("\nGoal: each function at or under 1.5x the Litestar+Mangum floor.")
