"""The chat function started exactly as the AWS Lambda Web Adapter starts it: ``run.sh``.

The adapter runs the script, polls its readiness path on ``AWS_LWA_PORT``, then forwards each
invocation as plain HTTP with the gateway's request context in ``x-amzn-request-context``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from local.children import free_port
from tests.support.chat import ChatStack, chat_body, content_of, sse_events

RUN_SH = Path(__file__).resolve().parents[2] / "functions" / "chat" / "run.sh"
REPO = RUN_SH.parents[2]


def _adapter_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_LWA_PORT": str(port),
        "AWS_LAMBDA_FUNCTION_NAME": "stratus-chat",
        # The runtime's python must be first on PATH, as it is in Lambda.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'layers' / 'stratus' / 'python'}",
    }


@pytest.fixture(scope="module")
def chat_under_adapter(stack_env, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    # Output goes to a file: a pipe nobody reads would block the server once it fills.
    log = tmp_path_factory.mktemp("adapter") / "run-sh.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["/bin/sh", str(RUN_SH)], cwd=REPO, env=_adapter_env(port), stdout=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + "/healthz", process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "run.sh exited before becoming ready"
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("chat did not pass the adapter's readiness check within 30s")


def test_readiness_path_and_readyz_answer_under_uvicorn(chat_under_adapter):
    health = httpx.get(chat_under_adapter + "/healthz")
    ready = httpx.get(chat_under_adapter + "/readyz")
    assert health.json()["service"] == "chat"
    body = ready.json()
    assert ready.status_code == 200, body
    assert body["checks"]["postgres"]["status"] == "ok"
    assert body["checks"]["dynamodb"]["status"] == "ok"
    # No model host in this environment: chat is degraded, not down.
    assert body["status"] == "degraded"


def test_gateway_request_id_from_adapter_header_is_the_correlation_id(chat_under_adapter):
    context = {"requestId": "Gw1cDeFgIAMEcXw=", "http": {"sourceIp": "203.0.113.7"}}
    response = httpx.get(
        chat_under_adapter + "/healthz",
        headers={"x-amzn-request-context": json.dumps(context)},
    )
    assert response.headers["x-request-id"] == "Gw1cDeFgIAMEcXw="


def test_errors_are_json_under_uvicorn(chat_under_adapter):
    openai_style = httpx.get(chat_under_adapter + "/v1/no-such-route")
    detail_style = httpx.get(chat_under_adapter + "/api/no-such-route")
    assert openai_style.status_code == 404
    assert openai_style.json()["error"]["type"] == "not_found_error"
    assert detail_style.status_code == 404
    assert "detail" in detail_style.json()


def test_a_weak_secret_stops_chat_before_it_is_ready(stack_env):
    env = {**_adapter_env(free_port()), "WEBUI_SECRET_KEY": "changeme", "STRATUS_DEV_MODE": "false"}
    result = subprocess.run(
        ["/bin/sh", str(RUN_SH)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "WEBUI_SECRET_KEY: the signing secret is a published default" in result.stderr


# -- a streamed completion through run.sh --------------------------------------------------------


@pytest.fixture
def adapter_with_model_host(chat_stack: ChatStack, tmp_path: Path) -> Iterator[AdapterProcess]:
    """``run.sh`` with the emulator as its model host; accounts come from ``chat_stack``'s auth
    function (the chat function has no sign-up of its own), sharing Postgres and the secret."""
    port = free_port()
    log = tmp_path / "run-sh.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["/bin/sh", str(RUN_SH)],
            cwd=REPO,
            env=_adapter_env(port),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + "/healthz", process)
        yield AdapterProcess(process, base, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class AdapterProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path


@pytest.mark.anyio
async def test_a_streamed_completion_arrives_progressively_through_run_sh(
    adapter_with_model_host: AdapterProcess, chat_stack: ChatStack
):
    chat_stack.emulator.set_faults(token_delay=0.15)
    text = "one two three four five six seven eight nine ten"
    tokens = len(text.split()) + 2  # "You said:" and the words
    arrivals: list[tuple[float, str]] = []
    started = time.monotonic()
    async with (
        httpx.AsyncClient(base_url=adapter_with_model_host.base_url, timeout=30) as http,
        http.stream(
            "POST",
            "/v1/chat/completions",
            json=chat_body(text, stream=True),
            headers=chat_stack.user.headers,
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for part in response.aiter_text():
            arrivals.append((time.monotonic() - started, part))
    body = "".join(part for _, part in arrivals)
    events = sse_events(body)
    assert events[-1] == "[DONE]"
    assert content_of(events) == f"You said: {text}"
    first_content = next(at for at, part in arrivals if '"content":"' in part)
    total = arrivals[-1][0]
    # The whole answer takes about tokens x 0.15 s; the first token must not wait for it.
    assert total >= tokens * 0.15 * 0.9
    assert first_content < total - 0.8
    # Many separate writes reached the client, not one buffered body.
    assert len(arrivals) >= tokens // 2


@pytest.mark.anyio
async def test_run_sh_serves_on_uvloop_and_httptools(adapter_with_model_host: AdapterProcess):
    # run.sh execs uvicorn, so the script's pid is the server's.
    server = psutil.Process(adapter_with_model_host.process.pid)
    command = server.cmdline()
    assert "uvicorn" in command
    assert command[command.index("--loop") + 1] == "uvloop"
    assert command[command.index("--http") + 1] == "httptools"
    # And they are really loaded: their compiled extensions are mapped into the process.
    mapped = [Path(m.path) for m in server.memory_maps() if m.path]
    assert any(p.parent.name == "uvloop" and p.name.startswith("loop.") for p in mapped)
    assert any(p.parent.name == "parser" and p.parent.parent.name == "httptools" for p in mapped)
