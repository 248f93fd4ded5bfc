"""The composed app in a separate OS process: a second, truly independent app instance.

It shares only what two Lambda instances share: Postgres, DynamoDB and the model host (all from
the current environment). It can be killed without any ``finally`` running, like a Lambda
timeout or an out-of-memory kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from local.children import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no finalizer, nothing saved on the way out."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def app_process(tmp_dir: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[AppProcess]:
    port = free_port()
    log = tmp_dir / f"app-{port}.log"
    env = {**os.environ, **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "stratus" / "python")])
    command = [
        sys.executable, "-m", "uvicorn", "local.composed:create_local_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app process exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(base_url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("app process did not start in time")
            time.sleep(0.05)
        yield AppProcess(process, base_url, log)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
