"""Child processes the benchmarks start: wait until one answers HTTP at all."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_http(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    """Until ``url`` answers with any status (the bare proxy answers nothing but completions
    well), or ``process`` exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")
