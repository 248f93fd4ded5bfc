"""Runs PDF and DOCX extraction in a child process with CPU, memory and wall-clock budgets.

A plain subprocess with pipes (no multiprocessing: Lambda has no ``/dev/shm``). The child sets
its own ``RLIMIT_AS`` and ``RLIMIT_CPU`` first (``worker.py``); the parent adds a wall-clock
timeout and kills it if that passes, so a parser that sleeps or blocks is stopped too. Whatever
happens in the child, the parent gets a reason, and the API process is never at risk.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys

from functions.rag.ingest.errors import ExtractionError

# Interpreter start-up and imports run under the same limits; give the wall clock some slack.
_WALL_SLACK = 5.0


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TMPDIR"}}
    # The child finds the same code as this process, however this process found it (Lambda
    # layers under /opt/python, the function under /var/task, a checkout locally).
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


async def extract_in_sandbox(
    kind: str, data: bytes, *, cpu_seconds: float, memory_mb: int, max_chars: int
) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "functions.rag.ingest.worker",
        kind,
        str(max_chars),
        str(max(1, math.ceil(cpu_seconds))),
        str(memory_mb),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_child_env(),
    )
    try:
        stdout, _ = await asyncio.wait_for(
            process.communicate(data), timeout=cpu_seconds + _WALL_SLACK
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ExtractionError(
            f"Reading the {kind.upper()} took longer than its time budget "
            f"({cpu_seconds:.0f} s); it was abandoned."
        ) from None
    if process.returncode != 0:
        raise ExtractionError(_killed(kind, process.returncode))
    try:
        result = json.loads(stdout)
    except ValueError:
        raise ExtractionError(f"Reading the {kind.upper()} failed.") from None
    if "error" in result:
        raise ExtractionError(str(result["error"]))
    return str(result["text"])


def _killed(kind: str, returncode: int | None) -> str:
    import signal

    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (
            f"Reading the {kind.upper()} used more CPU time than its budget allows; "
            "it was abandoned."
        )
    return (
        f"Reading the {kind.upper()} failed: it ran out of its memory budget or crashed "
        "and was abandoned."
    )
