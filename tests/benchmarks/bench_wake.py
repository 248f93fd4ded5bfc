"""Scale-to-zero on the local stack: time to first token after the model host slept, and wake
calls per burst, with the emulated host's simulated boot B = 5 s (issue 15).

The real local stack runs as a subprocess (``python -m local --emulate-model-host
--model-host-idle-seconds 2 --model-host-boot-seconds 5``): the emulator sleeps after 2 idle
seconds, and a wake takes 5 s before it answers. Each round waits for the host to sleep, then
sends a burst of concurrent streamed completions; the same burst against the awake host is the
baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from local.children import free_port
from tests.benchmarks.processes import wait_http
from tests.benchmarks.stats import median, table

REPO = Path(__file__).resolve().parents[2]
BOOT_SECONDS = 5.0
IDLE_SECONDS = 2.0
ROUNDS = int(os.environ.get("BENCH_WAKE_ROUNDS", "3"))
BURST = int(os.environ.get("BENCH_WAKE_BURST", "8"))


async def first_token(http: httpx.AsyncClient, headers: dict[str, str]) -> tuple[float, float]:
    """Seconds to the first byte (a heartbeat while the host wakes) and to the first token."""
    body = {
        "model": "emulator-chat",
        "messages": [{"role": "user", "content": "hello after a nap"}],
        "stream": True,
    }
    started = time.perf_counter()
    first_byte = token = None
    async with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as answer:
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code}: {(await answer.aread())[:200]!r}")
        # Read to the end, so that the next request may reuse the connection.
        async for line in answer.aiter_lines():
            first_byte = first_byte or time.perf_counter() - started
            has_text = '"content":"' in line and '"content":""' not in line
            if token is None and line.startswith("data:") and has_text:
                token = time.perf_counter() - started
    if first_byte is None or token is None:
        raise RuntimeError("the stream ended without a token")
    return first_byte, token


async def burst(http: httpx.AsyncClient, headers: dict[str, str]) -> list[tuple[float, float]]:
    return await asyncio.gather(*(first_token(http, headers) for _ in range(BURST)))


def supervisor_url(data_dir: Path) -> str:
    log = (data_dir / "logs" / "model-host-supervisor.log").read_text()
    found = re.search(r"supervisor on (http://127\.0\.0\.1:\d+)", log)
    if found is None:
        raise RuntimeError("the supervisor did not say where it listens")
    return found.group(1)


async def asleep(supervisor: httpx.AsyncClient) -> None:
    for _ in range(600):
        if (await supervisor.get("/state")).json()["state"] == "asleep":
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the host never fell asleep")


async def measure(base_url: str, control: str) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"awake": [], "woken": [], "first_byte": [], "wakes": []}
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.test"
        signed = await http.post(
            "/api/v1/auths/signup",
            json={"name": "Bench", "email": email, "password": "bench-password-123"},
        )
        headers = {"Authorization": f"Bearer {signed.json()['token']}"}
        async with httpx.AsyncClient(base_url=control, timeout=10) as supervisor:
            for _ in range(ROUNDS):
                # Baseline: the host is awake (a first request wakes it if it slept).
                await first_token(http, headers)
                figures["awake"] += [token for _, token in await burst(http, headers)]
                await asleep(supervisor)
                before = (await supervisor.get("/state")).json()["wakes"]
                held = await burst(http, headers)
                figures["woken"] += [token for _, token in held]
                figures["first_byte"] += [byte for byte, _ in held]
                figures["wakes"].append((await supervisor.get("/state")).json()["wakes"] - before)
    return figures


def main() -> None:
    print(f"\n## Scale-to-zero: {BURST} streams after the host slept (boot {BOOT_SECONDS:g} s)\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATABASE_"))}
    env.pop("OLLAMA_BASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="stratus-bench-wake-") as tmp:
        data_dir = Path(tmp)
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "--emulate-model-host", "--data-dir", str(data_dir),
             "--port", str(port), "--model-host-idle-seconds", str(IDLE_SECONDS),
             "--model-host-boot-seconds", str(BOOT_SECONDS)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_http(f"{base_url}/healthz", process, "the local stack")
            figures = asyncio.run(measure(base_url, supervisor_url(data_dir)))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    woken = median(figures["woken"])
    rows = [
        _row("host awake (baseline): first token", figures["awake"]),
        _row("host asleep: first token", figures["woken"]),
        _row("host asleep: first byte", figures["first_byte"]),
    ]
    print(table(["streams", "n", "median s", "max s"], rows))
    print(
        f"\nWake cost over the boot: {woken - BOOT_SECONDS:+.2f} s (median first token minus "
        f"B); wake calls per burst of {BURST}: {figures['wakes']} (goal: exactly 1 each)."
    )


def _row(label: str, values: list[float]) -> list[object]:
    return [label, len(values), f"{median(values):.3f}", f"{max(values):.3f}"]
