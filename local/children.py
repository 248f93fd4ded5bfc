"""Child processes of the local stack (moto's server, the model-host emulator), stopped on exit."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, grace: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(grace)


@dataclass
class Children:
    log_dir: Path
    running: list[Child] = field(default_factory=list)

    def start(self, name: str, args: list[str], url: str) -> Child:
        # Each child logs to its own file: the terminal stays readable, and a crash is findable.
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name.replace(' ', '-')}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, *args], stdout=log, stderr=subprocess.STDOUT
            )
        child = Child(name, process, url, log_path)
        self.running.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.running):
            child.stop()
        self.running.clear()


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str, child: Child) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            code = child.process.returncode
            raise RuntimeError(f"{what} exited during start-up (code {code}); see {child.log_path}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout:g}s")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=0.5).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
