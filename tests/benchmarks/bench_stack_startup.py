"""Local stack start to the first ``/readyz`` 200: cold (empty data dir) and warm (restart)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from local.children import free_port
from tests.benchmarks.stats import median, table

REPO = Path(__file__).resolve().parents[2]
COLD_RUNS = int(os.environ.get("BENCH_STACK_COLD_RUNS", "3"))
WARM_RUNS = int(os.environ.get("BENCH_STACK_WARM_RUNS", "5"))


def start_to_ready(data_dir: Path) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env.pop("OLLAMA_BASE_URL", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--emulate-model-host", "--data-dir", str(data_dir),
         "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with httpx.Client(timeout=1.0) as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError("the local stack exited during start-up")
                time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def main() -> None:
    print("\n## Local stack: start to /readyz 200 (with the model-host emulator)\n")
    with tempfile.TemporaryDirectory(prefix="stratus-bench-") as tmp:
        cold = [start_to_ready(Path(tmp) / f"cold-{i}") for i in range(COLD_RUNS)]
        warm_dir = Path(tmp) / "cold-0"
        warm = [start_to_ready(warm_dir) for _ in range(WARM_RUNS)]
    rows = [
        ["cold (empty data dir)", COLD_RUNS, f"{median(cold):.2f}", f"{max(cold):.2f}"],
        ["warm (second start)", WARM_RUNS, f"{median(warm):.2f}", f"{max(warm):.2f}"],
    ]
    print(table(["start", "runs", "median s", "max s"], rows))
    print("\nGoal: a warm start ready in under 10 s on a 2-core machine.")
