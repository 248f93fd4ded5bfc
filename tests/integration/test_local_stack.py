"""``python -m local`` as a user runs it: start, summary, readiness, restart, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from local.children import free_port
from tests.support.log_capture import remember
from tests.support.services import server_data_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with server_data_dir("stratus-stack-") as scratch:
        yield scratch / "data"


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    base_url: str
    ready_after: float

    def output_after_stop(self) -> str:
        return self.process.stderr.read() if self.process.stderr else ""


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DATABASE_", "OLLAMA_", "STRATUS_", "WEBUI_"))
    }
    env.update(extra)
    return env


@contextmanager
def running_stack(data_dir: Path, *args: str, **env: str) -> Iterator[RunningStack]:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--data-dir", str(data_dir), "--port", str(port), *args],
        cwd=REPO,
        env=_clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    stack = RunningStack(process, base, 0.0)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, f"stack exited: {stack.output_after_stop()}"
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("stack not ready within 60s")
        stack.ready_after = time.monotonic() - started
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(30)


def _descendants_alive(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.is_running()]
    except psutil.NoSuchProcess:
        return []


def _postgres_running_in(data_dir: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
            return True
    return False


def test_stack_starts_reports_and_stops_cleanly(data_dir):
    with running_stack(data_dir, "--emulate-model-host") as stack:
        ready = httpx.get(stack.base_url + "/readyz").json()
        children = _descendants_alive(stack.process.pid)
        assert children, "moto and the emulator should run as child processes"
        assert _postgres_running_in(data_dir / "postgres")
        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(30) == 0
        summary = stack.output_after_stop()

    assert ready["status"] == "ok", ready
    assert set(ready["checks"]) == {"postgres", "dynamodb", "object_storage", "model_host"}
    assert stack.base_url in summary
    assert f"Data         {data_dir.resolve()}" in summary
    assert "deterministic model-host emulator" in summary
    assert "answering (version" in summary
    assert "migrations: 0001.baseline" in summary
    # Ctrl-C stopped everything it started.
    assert not any(child.is_running() for child in children)
    assert not _postgres_running_in(data_dir / "postgres")
    assert (data_dir / "secret_key").stat().st_mode & 0o077 == 0


def test_restart_keeps_data_and_a_real_model_host_url_wins(data_dir):
    with running_stack(data_dir) as first:
        pass
    first_summary = first.output_after_stop()
    secret = (data_dir / "secret_key").read_text()

    # A configured OLLAMA_BASE_URL beats --emulate-model-host, even when nothing answers there.
    with running_stack(data_dir, "--emulate-model-host", OLLAMA_BASE_URL="http://127.0.0.1:9") as s:
        ready = httpx.get(s.base_url + "/readyz").json()
    second_summary = s.output_after_stop()

    assert "NOT answering" in first_summary
    assert "migrations: up to date" in second_summary
    assert (data_dir / "secret_key").read_text() == secret
    assert "OLLAMA_BASE_URL is set and a real host always wins" in second_summary
    assert "http://127.0.0.1:9" in second_summary
    assert ready["status"] == "degraded"
    assert ready["checks"]["model_host"]["status"] == "down"


def test_external_database_url_is_used_instead_of_embedded(data_dir, postgres_url):
    with running_stack(data_dir, DATABASE_URL=postgres_url) as stack:
        assert httpx.get(stack.base_url + "/readyz").json()["checks"]["postgres"]["status"] == "ok"
    assert "external (DATABASE_URL)" in stack.output_after_stop()
    assert not (data_dir / "postgres").exists()


def _request_logs(stdout: str) -> list[dict[str, object]]:
    records = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"message":"request"' in line.replace(" ", ""):
            records.append(json.loads(line))
    return records


def test_lambda_mode_serves_health_and_function_routes(data_dir):
    account = {"name": "Ada", "email": "ada@example.com", "password": "lambda-mode-password"}
    with running_stack(data_dir, "--lambda-mode") as stack:
        base = stack.base_url
        health = httpx.get(base + "/healthz")
        ready = httpx.get(base + "/readyz")
        signup = httpx.post(base + "/api/v1/auths/signup", json=account)
        token = remember(signup.json()["token"])
        me = httpx.get(base + "/api/v1/auths/", headers={"Authorization": f"Bearer {token}"})
        rag = httpx.get(base + "/api/v1/files/no-such-file")
        stack.process.send_signal(signal.SIGINT)
        stack.process.wait(30)
        logs = _request_logs(stack.process.stdout.read() if stack.process.stdout else "")

    assert health.status_code == 200
    assert health.json()["service"] == "chat"
    assert ready.status_code == 200, ready.text
    # Health is chat's, as API Gateway's default route sends it there: chat's own dependencies.
    assert ready.json()["service"] == "chat"
    assert set(ready.json()["checks"]) == {"postgres", "dynamodb", "model_host"}
    assert signup.status_code == 200, signup.text
    assert signup.json()["role"] == "admin"
    assert me.status_code == 200
    assert me.json()["email"] == account["email"]
    assert rag.status_code == 401  # rag's own guard: the route exists and wants credentials
    assert rag.json().keys() == {"detail"}
    # Each function route was served by its own Lambda handler, with a Lambda context.
    served_by = [(str(record["path"]), record.get("function_name")) for record in logs]
    auth = [name for path, name in served_by if path.startswith("/api/v1/auths")]
    assert auth == ["stratus-auth", "stratus-auth"]
    assert [name for path, name in served_by if path.startswith("/api/v1/files")] == ["stratus-rag"]
    assert {name for path, name in served_by if path in {"/healthz", "/readyz"}} == {None}
    assert "Lambda mode" in stack.output_after_stop()


def test_a_weak_secret_stops_the_stack_with_a_clear_message(data_dir):
    env = _clean_env(WEBUI_SECRET_KEY="changeme")
    result = subprocess.run(
        [sys.executable, "-m", "local", "--data-dir", str(data_dir), "--port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Stratus cannot start: WEBUI_SECRET_KEY: the signing secret is a published default" in (
        result.stderr
    )
    assert "changeme" not in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing it started is left running.
    assert not _postgres_running_in(data_dir / "postgres")
