"""The model lists and routing by upstream: Ollama hosts and an OpenAI-compatible API together.

Two emulators: the usual one as the Ollama host, and a second one, serving other models, as
the OpenAI-compatible upstream (``OPENAI_API_BASE_URL`` = its ``/v1``), so a test can tell
which host answered. Everything goes through the real HTTP API of a live server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest

from local.children import free_port
from local.emulator import EmulatorConfig, expected_reply, running_emulator
from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account
from tests.support.chat import (
    REMOTE_MODELS,
    ChatStack,
    chat_body,
    content_of,
    remote_env,
    serve_chat_stack,
    sse_events,
)

pytestmark = pytest.mark.anyio

OLLAMA_MODELS = {
    "emulator-chat:latest",
    "emulator-think:latest",
    "emulator-embed:latest",
    "nomic-embed-text:latest",
}


async def model_ids(stack: ChatStack, account: Account, path: str = "/v1/models") -> set[str]:
    response = await stack.http.get(path, headers=account.headers)
    assert response.status_code == 200, response.text
    return {m["id"] for m in response.json()["data"]}


async def test_both_lists_aggregate_ollama_and_the_openai_compatible_upstream(
    mixed_stack: ChatStack,
):
    user = mixed_stack.user
    openai_list = await mixed_stack.http.get("/v1/models", headers=user.headers)
    entries = {m["id"]: m for m in openai_list.json()["data"]}
    assert set(entries) == OLLAMA_MODELS | REMOTE_MODELS
    assert entries["emulator-chat:latest"]["owned_by"] == "ollama"
    assert entries["remote-chat:latest"]["owned_by"] == "library"
    assert all(m["object"] == "model" for m in entries.values())

    webui = await mixed_stack.http.get("/api/models", headers=user.headers)
    models = {m["id"]: m for m in webui.json()["data"]}
    assert set(models) == OLLAMA_MODELS | REMOTE_MODELS
    assert models["emulator-chat:latest"]["connection_type"] == "local"
    assert models["emulator-chat:latest"]["ollama"]["digest"]
    assert models["remote-chat:latest"]["connection_type"] == "external"
    assert "ollama" not in models["remote-chat:latest"]


async def test_an_openai_compatible_model_is_served_by_its_upstream_streaming_through(
    mixed_stack: ChatStack, remote: EmulatorHandle
):
    remote.set_faults(token_delay=0.1)
    text = "stream this answer from the other host please one word at a time"
    body = {**chat_body(text, stream=True), "model": "remote-chat"}
    arrivals: list[float] = []
    started = time.monotonic()
    raw = ""
    async with mixed_stack.http.stream(
        "POST", "/v1/chat/completions", json=body, headers=mixed_stack.user.headers
    ) as response:
        assert response.status_code == 200
        async for part in response.aiter_text():
            arrivals.append(time.monotonic() - started)
            raw += part
    events = sse_events(raw)
    reply = expected_reply([{"role": "user", "content": text}])
    assert content_of(events) == "".join(reply)
    assert events[-1] == "[DONE]"
    # Tokens came as the upstream produced them, not all at the end.
    assert arrivals[0] < arrivals[-1] - 0.8
    assert remote.stats.requests("POST /v1/chat/completions") == 1
    sent = remote.stats.last_body("/v1/chat/completions")
    assert sent["model"] == "remote-chat:latest"
    assert sent["stream"] is True
    # The upstream's key went to the upstream; the Ollama host got no chat call.
    assert all(r.has_authorization for r in remote.stats.recent_requests)
    assert mixed_stack.emulator.stats.requests("POST /api/chat") == 0


async def test_an_openai_compatible_upstreams_stream_keeps_our_chunk_format(
    mixed_stack: ChatStack, remote: EmulatorHandle
):
    text = "count my words"
    body = {
        **chat_body(text, stream=True, stream_options={"include_usage": True}),
        "model": "remote-chat",
    }
    response = await mixed_stack.complete(mixed_stack.user, body)
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    task_id = response.headers["x-stratus-task-id"]
    assert {c["id"] for c in chunks} == {f"chatcmpl-{task_id}"}
    with_choices = [c for c in chunks if c["choices"]]
    assert with_choices[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in with_choices[1:])
    reasons = [c["choices"][0]["finish_reason"] for c in with_choices]
    assert reasons == [None] * (len(reasons) - 1) + ["stop"]
    usage = chunks[-1]
    assert usage["choices"] == []
    reply = expected_reply([{"role": "user", "content": text}])
    assert usage["usage"]["completion_tokens"] == len(reply)
    assert remote.stats.last_body("/v1/chat/completions")["stream_options"] == {
        "include_usage": True
    }


async def test_an_openai_compatible_upstreams_tool_calls_get_our_ids(
    mixed_stack: ChatStack, remote: EmulatorHandle
):
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    body = {
        **chat_body("call get_weather Rome", stream=True, tools=[tool]),
        "model": "remote-chat",
    }
    response = await mixed_stack.complete(mixed_stack.user, body)
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    calls = [call for e in events[:-1] for call in e["choices"][0]["delta"].get("tool_calls") or []]
    assert calls[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(c["function"].get("arguments", "") for c in calls)) == {
        "city": "Rome"
    }
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_an_openai_compatible_model_answers_whole_and_its_usage_counts(
    mixed_stack: ChatStack, remote: EmulatorHandle
):
    body = {**chat_body("whole answer please"), "model": "remote-chat"}
    response = await mixed_stack.complete(mixed_stack.user, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    reply = expected_reply([{"role": "user", "content": "whole answer please"}])
    assert answer["choices"][0]["message"]["content"] == "".join(reply)
    assert answer["usage"]["completion_tokens"] == len(reply)
    assert answer["model"] == "remote-chat"
    assert remote.stats.requests("POST /v1/chat/completions") == 1


async def test_embeddings_go_to_the_upstream_that_serves_the_model(
    mixed_stack: ChatStack, remote: EmulatorHandle
):
    response = await mixed_stack.http.post(
        "/v1/embeddings",
        json={"model": "remote-embed", "input": ["a b", "c"]},
        headers=mixed_stack.user.headers,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 2
    assert remote.stats.requests("POST /v1/embeddings") == 1
    assert mixed_stack.emulator.stats.requests("POST /api/embed") == 0


async def test_openai_compatible_models_stay_off_the_ollama_passthrough(
    mixed_stack: ChatStack, remote: EmulatorHandle
):
    headers = mixed_stack.user.headers
    tags = await mixed_stack.http.get("/ollama/api/tags", headers=headers)
    assert {m["name"] for m in tags.json()["models"]} == OLLAMA_MODELS
    chat = await mixed_stack.http.post(
        "/ollama/api/chat",
        json={"model": "remote-chat", "messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )
    assert chat.status_code == 404
    assert remote.stats.requests("POST /v1/chat/completions") == 0


async def test_an_ollama_host_that_is_down_drops_out_and_the_list_still_answers(
    auth_env: dict[str, str], emulator: EmulatorHandle, remote: EmulatorHandle
):
    dead_ollama = f"http://127.0.0.1:{free_port()}"
    env = remote_env(remote, OLLAMA_BASE_URLS=f"{dead_ollama};{emulator.base_url}")
    async with serve_chat_stack(emulator, env) as stack:
        for path in ("/v1/models", "/api/models"):
            assert await model_ids(stack, stack.user, path) == OLLAMA_MODELS | REMOTE_MODELS
        # Its models are served by the host that answers.
        response = await stack.complete(stack.user, chat_body("still here"))
        assert response.status_code == 200
        assert emulator.stats.requests("POST /api/chat") == 1


async def test_an_upstream_that_refuses_us_drops_out_and_the_list_still_answers(
    auth_env: dict[str, str], emulator: EmulatorHandle, remote: EmulatorHandle
):
    remote.set_faults(require_api_key="a-key-the-gateway-does-not-have")
    async with serve_chat_stack(emulator, remote_env(remote)) as stack:
        for path in ("/v1/models", "/api/models"):
            assert await model_ids(stack, stack.user, path) == OLLAMA_MODELS
        assert remote.stats.requests("GET /v1/models") >= 1


async def test_with_every_host_down_the_list_is_empty_not_an_error(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"OLLAMA_BASE_URL": dead, "OPENAI_API_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}
    async with serve_chat_stack(emulator, env) as stack:
        for path in ("/v1/models", "/api/models"):
            response = await stack.http.get(path, headers=stack.user.headers)
            assert response.status_code == 200
            assert response.json()["data"] == []
        assert dead not in (await stack.http.get("/v1/models", headers=stack.user.headers)).text


async def test_the_allow_list_filters_users_and_admins_see_everything(
    auth_env: dict[str, str], emulator: EmulatorHandle, remote: EmulatorHandle
):
    env = remote_env(remote, STRATUS_USER_MODELS="emulator-chat;remote-*")
    async with serve_chat_stack(emulator, env) as stack:
        allowed = {"emulator-chat:latest", *REMOTE_MODELS}
        for path in ("/v1/models", "/api/models"):
            assert await model_ids(stack, stack.user, path) == allowed
            assert await model_ids(stack, stack.admin, path) == OLLAMA_MODELS | REMOTE_MODELS
        hidden = await stack.complete(stack.user, {**chat_body("x"), "model": "emulator-think"})
        assert hidden.status_code == 404
        assert hidden.json()["error"]["code"] == "model_not_found"
        embed = await stack.http.post(
            "/v1/embeddings",
            json={"model": "nomic-embed-text", "input": "x"},
            headers=stack.user.headers,
        )
        assert embed.status_code == 404
        assert emulator.stats.requests("POST /api/chat") == 0
        assert emulator.stats.requests("POST /api/embed") == 0
        # Allowed models work, and admins may use the hidden ones.
        ok = await stack.complete(stack.user, {**chat_body("x"), "model": "remote-chat"})
        assert ok.status_code == 200
        admin = await stack.complete(stack.admin, {**chat_body("x"), "model": "emulator-think"})
        assert admin.status_code == 200


async def test_the_list_is_cached_briefly_and_a_new_model_appears_after_it(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    late_config = EmulatorConfig(chat_models=("late-model",), thinking_models=(), embed_models=())
    with running_emulator(late_config) as late:
        # The second host refuses to list its models at first, so it drops out of the list.
        late.set_faults(require_api_key="not-yet")
        env = {
            "OLLAMA_BASE_URLS": f"{emulator.base_url};{late.base_url}",
            "STRATUS_MODELS_CACHE_SECONDS": "2",
        }
        async with serve_chat_stack(emulator, env) as stack:
            assert await model_ids(stack, stack.user) == OLLAMA_MODELS
            fetched_at = time.monotonic()
            late.set_faults(require_api_key=None)
            # Within the cache window: the same list, and no new call to any host.
            assert await model_ids(stack, stack.user, "/api/models") == OLLAMA_MODELS
            assert time.monotonic() - fetched_at < 2, "too slow to test inside the window"
            assert emulator.stats.requests("GET /api/tags") == 1
            assert late.stats.requests("GET /api/tags") == 1
            await asyncio.sleep(max(0.0, 2.1 - (time.monotonic() - fetched_at)))
            assert await model_ids(stack, stack.user) == OLLAMA_MODELS | {"late-model:latest"}
            assert emulator.stats.requests("GET /api/tags") == 2


async def test_two_ollama_hosts_serving_one_model_share_its_requests(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    with running_emulator() as second:
        env = {"OLLAMA_BASE_URLS": f"{emulator.base_url};{second.base_url}"}
        async with serve_chat_stack(emulator, env) as stack:
            assert await model_ids(stack, stack.user) == OLLAMA_MODELS
            results: list[Any] = await asyncio.gather(
                *(stack.complete(stack.user, chat_body(f"n{i}")) for i in range(4))
            )
            assert all(r.status_code == 200 for r in results)
        assert emulator.stats.requests("POST /api/chat") == 2
        assert second.stats.requests("POST /api/chat") == 2


async def test_a_host_that_went_down_keeps_its_models_listed_and_answers_503_not_404(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    """Issue 16 item 7: with the model host down, its models are still listed (from the last
    list it gave) and a request for one is a 503 with ``Retry-After``: the openai SDK must not
    read it as a missing model (404 ``model_not_found``)."""
    config = EmulatorConfig(chat_models=("sleepy-chat",), thinking_models=(), embed_models=())
    with contextlib.ExitStack() as running:
        host = running.enter_context(running_emulator(config))
        env = {"OLLAMA_BASE_URL": host.base_url, "STRATUS_MODELS_CACHE_SECONDS": "0"}
        async with serve_chat_stack(emulator, env) as stack:
            assert await model_ids(stack, stack.user) == {"sleepy-chat:latest"}
            running.close()  # the host goes down
            for path in ("/v1/models", "/api/models"):
                assert await model_ids(stack, stack.user, path) == {"sleepy-chat:latest"}
            tags = await stack.http.get("/ollama/api/tags", headers=stack.user.headers)
            assert [m["name"] for m in tags.json()["models"]] == ["sleepy-chat:latest"]
            for stream in (False, True):
                body = chat_body("hi", model="sleepy-chat", stream=stream)
                response = await stack.complete(stack.user, body)
                assert response.status_code == 503, response.text
                assert int(response.headers["retry-after"]) > 0
                assert response.json()["error"]["code"] == "model_host_unavailable"
            # A model nobody ever served is still a 404.
            missing = await stack.complete(stack.user, chat_body("hi", model="never-served"))
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "model_not_found"
