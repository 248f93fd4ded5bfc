"""Scale-to-zero on the local supervisor: a model host that sleeps is woken by the first admitted
request, once, and clients are held, not failed, while it wakes (issue 15; matrix row 36).

The supervisor (``local/model_host_supervisor.py``) runs in-process: the emulator stops when it
sleeps and starts again after a simulated boot. Everything else is real: the composed app on a
live server, Postgres, moto's DynamoDB (the wake lease) and real streams over sockets.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from local.children import free_port
from local.emulator import expected_reply
from local.emulator.testing import EmulatorHandle
from local.model_host_supervisor import Supervisor
from tests.support.chat import ChatStack, chat_body, content_of, serve_chat_stack, sse_events

pytestmark = pytest.mark.anyio

HOST_STARTING = ": model host starting"
QUESTION = "are you awake"


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    with Supervisor(port=free_port(), idle_seconds=3600, boot_seconds=1.0).start() as running:
        yield running


@asynccontextmanager
async def asleep(
    emulator: EmulatorHandle, supervisor: Supervisor, **extra: str
) -> AsyncIterator[ChatStack]:
    """The stack, after the host answered once (so its models are known) and fell asleep."""
    env = {
        "OLLAMA_BASE_URL": supervisor.base_url,
        "STRATUS_MODEL_HOST_SUPERVISOR_URL": supervisor.control_url,
        "STRATUS_MODEL_HOST_WAKE_POLL_SECONDS": "0.1",
        "STRATUS_MODELS_CACHE_SECONDS": "0",
        **extra,
    }
    async with serve_chat_stack(emulator, env) as stack:
        listed = await stack.http.get("/v1/models", headers=stack.user.headers)
        assert "emulator-chat:latest" in listed.text
        supervisor.sleep()
        yield stack


async def timed_stream(stack: ChatStack, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed completion, with when its first bytes came and the longest silence."""
    started = time.monotonic()
    request = stack.http.build_request(
        "POST", "/v1/chat/completions", json=body, headers=stack.user.headers
    )
    response = await stack.http.send(request, stream=True)
    first: float | None = None
    last = started
    longest_gap = 0.0
    parts: list[str] = []
    async for text in response.aiter_text():
        now = time.monotonic()
        first = now - started if first is None else first
        longest_gap = max(longest_gap, now - last)
        last = now
        parts.append(text)
    return {
        "status": response.status_code,
        "first_bytes": first,
        "longest_gap": longest_gap,
        "body": "".join(parts),
    }


async def test_streams_sent_while_the_host_sleeps_are_held_and_then_answered(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor
):
    """8 concurrent streams while the host sleeps, and a boot longer than 10 s: each gets bytes
    at once and at least every 10 s (the heartbeat), then the normal stream and ``[DONE]``; the
    host is woken exactly once."""
    supervisor.boot_seconds = 11.0
    async with asleep(emulator, supervisor) as stack:
        body = chat_body(QUESTION, stream=True)
        results = await asyncio.gather(*(timed_stream(stack, body) for _ in range(8)))
        for result in results:
            assert result["status"] == 200
            assert result["first_bytes"] < 10
            assert result["longest_gap"] < 10
            assert result["body"].startswith(HOST_STARTING)
            events = sse_events(result["body"])
            assert events[-1] == "[DONE]"
            assert content_of(events) == "".join(
                expected_reply([{"role": "user", "content": QUESTION}])
            )
        assert supervisor.wakes == 1
        assert supervisor.state == "awake"


async def test_a_stop_ends_a_held_stream_and_saves_nothing_half_made(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor
):
    supervisor.boot_seconds = 30.0
    async with asleep(emulator, supervisor) as stack:
        user = stack.user
        chat_id = await stack.new_chat(user)
        request = stack.http.build_request(
            "POST",
            "/v1/chat/completions",
            json=chat_body(QUESTION, chat_id=chat_id, stream=True),
            headers=user.headers,
        )
        response = await stack.http.send(request, stream=True)
        lines = response.aiter_lines()
        assert await anext(lines) == HOST_STARTING
        stop = await stack.http.post(
            f"/api/tasks/stop/{response.headers['x-stratus-task-id']}", headers=user.headers
        )
        assert stop.json()["status"] is True
        rest = [line async for line in lines]
        assert rest[-2:] == ["data: [DONE]", ""]
        messages = await stack.chat_messages(user, chat_id)
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[-1]["status"] == "cancelled"
        assert messages[-1]["content"] == ""
        assert messages[-1]["usage"]["total_tokens"] == 0


async def test_requests_that_cannot_stream_wait_the_short_hold_then_get_503(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor
):
    supervisor.boot_seconds = 30.0
    async with asleep(emulator, supervisor, STRATUS_MODEL_HOST_HOLD_SECONDS="0.5") as stack:
        headers = stack.user.headers
        attempts = {
            "/v1/chat/completions": chat_body(QUESTION),
            "/api/chat/completions": chat_body(QUESTION),
            "/v1/embeddings": {"model": "emulator-embed", "input": "x"},
            "/ollama/api/chat": {"model": "emulator-chat", "messages": [], "stream": True},
            "/ollama/api/embed": {"model": "emulator-embed", "input": "x"},
        }
        for path, body in attempts.items():
            started = time.monotonic()
            response = await stack.http.post(path, json=body, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert 0.4 < time.monotonic() - started < 5
            assert int(response.headers["retry-after"]) > 0
            if path.startswith("/v1/"):
                assert response.json()["error"]["code"] == "model_host_starting"
            else:  # Open WebUI's and Ollama's shapes: a message
                assert "starting" in str(response.json())
        # Held, not ignored: the first of them woke the host, once.
        assert supervisor.state == "starting"


async def test_models_and_readiness_while_the_host_sleeps_and_wakes(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor
):
    supervisor.boot_seconds = 30.0
    async with asleep(emulator, supervisor, STRATUS_MODEL_HOST_HOLD_SECONDS="0.2") as stack:
        headers = stack.user.headers
        for path in ("/v1/models", "/api/models"):
            listed = {m["id"] for m in (await stack.http.get(path, headers=headers)).json()["data"]}
            assert "emulator-chat:latest" in listed
        tags = (await stack.http.get("/ollama/api/tags", headers=headers)).json()["models"]
        assert "emulator-chat:latest" in {m["name"] for m in tags}
        assert (await stack.http.get("/ollama/api/ps", headers=headers)).json() == {"models": []}
        ready = await stack.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["model_host"]["status"] == "asleep"
        # Listing wakes nothing.
        assert supervisor.wakes == 0
        assert supervisor.state == "asleep"
        await stack.complete(stack.user, chat_body(QUESTION))  # held 0.2 s, then 503
        ready = await stack.http.get("/readyz")
        assert ready.json()["checks"]["model_host"]["status"] == "starting"


async def test_only_an_admitted_request_wakes_the_host(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor
):
    """Matrix row 36: a 401, a 404 or a 429 never wakes the GPU host."""
    # Three requests a minute: the two 404s count, the third is the one admitted.
    env = {"STRATUS_RATE_LIMIT_RPM": "3", "STRATUS_USER_MODELS": "emulator-chat"}
    async with asleep(emulator, supervisor, **env) as stack:
        user = stack.user
        anonymous = await stack.http.post("/v1/chat/completions", json=chat_body(QUESTION))
        assert anonymous.status_code == 401
        hidden = await stack.complete(user, chat_body(QUESTION, model="emulator-think"))
        assert hidden.status_code == 404
        unknown = await stack.complete(user, chat_body(QUESTION, model="no-such-model"))
        assert unknown.status_code == 404
        # The last request this minute allows: held while the host wakes, then answered.
        assert (await stack.complete(user, chat_body(QUESTION))).status_code == 200
        assert supervisor.wakes == 1
        supervisor.sleep()
        refused = await stack.complete(user, chat_body(QUESTION))
        assert refused.status_code == 429
        await asyncio.sleep(1.5)  # a wake would have finished by now
        assert supervisor.state == "asleep"
        assert supervisor.wakes == 1


async def test_a_host_that_goes_idle_sleeps_and_the_next_request_wakes_it(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor
):
    supervisor.idle_seconds = 0.5
    async with asleep(emulator, supervisor) as stack:
        supervisor.wake()
        for _ in range(50):
            if supervisor.state == "awake":
                break
            await asyncio.sleep(0.1)
        first = await stack.complete(stack.user, chat_body(QUESTION))
        assert first.status_code == 200
        await asyncio.sleep(1.0)
        assert supervisor.state == "asleep"  # idle for longer than 0.5 s
        again = await stack.complete(stack.user, chat_body(QUESTION))
        assert again.status_code == 200
        assert supervisor.wakes == 2


async def test_ingestion_waits_for_the_host_instead_of_failing(
    auth_env: dict[str, str], emulator: EmulatorHandle, supervisor: Supervisor, tmp_path
):
    from tests.support.rag import embedding_model

    model, dimensions = embedding_model()
    env = {
        "RAG_EMBEDDING_MODEL": model,
        "STRATUS_RAG_EMBEDDING_DIMENSIONS": str(dimensions),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "STORAGE_PROVIDER": "local",
        # The upload answers at once; the file is processed in the background.
        "STRATUS_RAG_INLINE_MAX_BYTES": "0",
        "STRATUS_MODEL_HOST_HOLD_SECONDS": "0.5",
    }
    supervisor.boot_seconds = 2.0
    async with asleep(emulator, supervisor, **env) as stack:
        headers = stack.user.headers
        uploaded = await stack.http.post(
            "/api/v1/files/",
            files={"file": ("notes.txt", b"The wake word is pelican.\n" * 20, "text/plain")},
            headers=headers,
        )
        assert uploaded.status_code == 200, uploaded.text
        file_id = uploaded.json()["id"]
        seen: list[str] = []
        for _ in range(100):
            status = await stack.http.get(
                f"/api/v1/files/{file_id}/process/status", headers=headers
            )
            seen.append(status.json()["state"])
            if seen[-1] in ("ready", "failed"):
                break
            await asyncio.sleep(0.1)
        assert seen[-1] == "ready", seen
        assert "failed" not in seen
        assert "processing" in seen
        assert supervisor.wakes == 1


async def test_the_supervisors_control_api(supervisor: Supervisor):
    async with httpx.AsyncClient(base_url=supervisor.control_url) as control:
        assert (await control.get("/state")).json() == {"state": "awake", "wakes": 0}
        supervisor.sleep()
        assert (await control.get("/state")).json()["state"] == "asleep"
        assert (await control.post("/wake")).json()["state"] == "starting"
        assert (await control.post("/wake")).json()["state"] == "starting"  # once
        for _ in range(50):
            if (await control.get("/state")).json() == {"state": "awake", "wakes": 1}:
                break
            await asyncio.sleep(0.1)
        assert json.loads((await control.get("/state")).text) == {"state": "awake", "wakes": 1}
