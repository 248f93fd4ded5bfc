"""Functions started the way Lambda starts them, in fresh processes, and observed from outside.

- Mangum handlers (auth, rag): ``lambda_child.py`` imports the handler (init), invokes one
  API Gateway event, then the same event warm, and reports times, modules and memory.
- The Web Adapter path (chat): the uvicorn command of ``run.sh``; the floor is the same command
  serving the hello app. ``module_probe`` reads a running server's module list.

Shared by the import guard (``tests/handler/test_import_guard.py``) and the cold-start
benchmark. Nothing here imports the functions: only the child processes do.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RUN_SH = REPO / "functions" / "chat" / "run.sh"
EVENTS = REPO / "tests" / "events"
CHILD_SOURCE = (Path(__file__).parent / "lambda_child.py").read_text()
PROBE_DIR = Path(__file__).parent / "module_probe"
# The route rag's realistic event uses: the file list once the rag function has it, until then
# another protected route that reads Postgres, and on a rag with none, /readyz (which does).
RAG_ROUTES = ("/api/v1/files/", "/api/v1/knowledge/")


def recorded_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    filled: dict[str, Any] = json.loads(json.dumps(event).replace("{{token}}", token))
    return filled


def with_path(event: dict[str, Any], path: str, body: str | None = None) -> dict[str, Any]:
    """An HTTP API (v2) event with another path (and body)."""
    copied = copy.deepcopy(event)
    copied["rawPath"] = copied["requestContext"]["http"]["path"] = path
    if body is not None:
        copied["body"] = body
        copied["headers"]["content-length"] = str(len(body.encode()))
    return copied


def function_env(
    base: Mapping[str, str], python: Path, code: Sequence[Path] | None = None
) -> dict[str, str]:
    """What a function's process sees: ``base``, its code on the import path (by default the
    repo's, laid out as Lambda lays it out), and ``python``'s virtualenv first on PATH
    (``run.sh`` runs ``python``)."""
    env = {k: v for k, v in base.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    paths = code if code is not None else [REPO, REPO / "layers" / "stratus" / "python"]
    env["PYTHONPATH"] = os.pathsep.join(map(str, paths))
    env["PATH"] = f"{python.parent}{os.pathsep}{base.get('PATH', os.defpath)}"
    return env


@dataclass(frozen=True)
class HandlerRun:
    """One fresh process: init, the first event, the warm repeats (see ``lambda_child.py``)."""

    report: dict[str, Any]
    process_ms: float

    def __getitem__(self, key: str) -> Any:
        return self.report[key]

    def body(self) -> Any:
        return json.loads(self.report["first_body"])


def run_handler(
    python: Path,
    module: str,
    event: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    warm: int = 0,
    restore: bool = False,
    code: Sequence[Path] | None = None,
    cwd: Path = REPO,
) -> HandlerRun:
    """``code``: the import path (``function_env``); ``cwd``: the process's working directory,
    which ``python -c`` puts first on the import path (Lambda's is the task root)."""
    with tempfile.TemporaryDirectory(prefix="stratus-child-") as scratch:
        spec = Path(scratch) / "spec.json"
        output = Path(scratch) / "report.json"
        spec.write_text(
            json.dumps(
                {
                    "module": module,
                    "event": event,
                    "warm": warm,
                    "restore": restore,
                    "output": str(output),
                }
            )
        )
        started = time.perf_counter()
        result = subprocess.run(
            [str(python), "-c", CHILD_SOURCE, str(spec)],
            cwd=cwd,
            env=function_env(env, python, code),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        process_ms = (time.perf_counter() - started) * 1000
        if result.returncode != 0 or not output.exists():
            raise RuntimeError(f"{module} failed:\n{result.stderr[-4000:]}")
        return HandlerRun(json.loads(output.read_text()), process_ms)


def web_adapter_command(port: int, app: str | None = None) -> list[str]:
    """The uvicorn command ``run.sh`` execs, read from the script itself; ``app`` (a module:attr
    that is an app, not a factory) replaces chat's factory, for the floor."""
    script = RUN_SH.read_text().replace("\\\n", " ")
    line = next(li for li in script.splitlines() if li.strip().startswith("exec python"))
    words = shlex.split(line.replace('"$PORT"', str(port)))[1:]
    if app is not None:
        words[words.index("functions.chat.entry:create_entry_app")] = app
        words.remove("--factory")
    return words


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    spawned: float
    probe_dir: Path | None

    def wait_ready(self, path: str = "/healthz", timeout: float = 60) -> float:
        """Milliseconds from spawn to the first 200 on ``path``, polled as the adapter polls."""
        deadline = self.spawned + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode})")
            try:
                if self.request("GET", path).status == 200:
                    return (time.perf_counter() - self.spawned) * 1000
            except OSError:
                time.sleep(0.002)
        raise RuntimeError("the server did not become ready")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Timed:
        """One request on a new connection: status, time to the first body byte, the body."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            first = response.read(1)
            first_byte_ms = (time.perf_counter() - started) * 1000
            rest = response.read()
            return Timed(response.status, first_byte_ms, first + rest)
        finally:
            connection.close()

    def memory_mb(self) -> tuple[float, float]:
        """Resident memory now, and its peak (VmHWM), of the server process."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        )
        return _kib(fields["VmRSS"]) / 1024, _kib(fields["VmHWM"]) / 1024

    def modules(self) -> list[str]:
        """``sys.modules`` of the server process now (needs ``probe=True``)."""
        assert self.probe_dir is not None
        asked = len(list(self.probe_dir.glob("ask-*")))
        (self.probe_dir / f"ask-{asked}").touch()
        answer = self.probe_dir / f"modules-{asked}.json"
        deadline = time.monotonic() + 10
        while not answer.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the module probe did not answer")
            time.sleep(0.01)
        names: list[str] = json.loads(answer.read_text())
        return names


@dataclass(frozen=True)
class Timed:
    status: int
    first_byte_ms: float
    body: bytes


def _kib(value: str) -> float:
    return float(value.strip().split()[0])


@contextmanager
def server_process(
    command: list[str],
    env: Mapping[str, str],
    port: int,
    *,
    log: Path,
    probe: bool = False,
    cwd: Path = REPO,
) -> Iterator[Server]:
    """``command`` (``run.sh`` or the same uvicorn command) as its own process on ``port``, in
    ``cwd`` (``python -m`` puts it first on the import path; Lambda's is the task root)."""
    env = {**env, "AWS_LWA_PORT": str(port), "PORT": str(port)}
    probe_dir = Path(tempfile.mkdtemp(prefix="stratus-probe-")) if probe else None
    if probe_dir is not None:
        env["PYTHONPATH"] = f"{PROBE_DIR}{os.pathsep}{env['PYTHONPATH']}"
        env["STRATUS_MODULE_PROBE_DIR"] = str(probe_dir)
    with log.open("wb") as out:
        spawned = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
    try:
        yield Server(process, port, spawned, probe_dir)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
