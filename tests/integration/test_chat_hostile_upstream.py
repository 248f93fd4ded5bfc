"""A hostile upstream through the gateway (matrix row 24), and the per-model options the
operator sets (``STRATUS_MODEL_NUM_CTX``, ``STRATUS_MODEL_KEEP_ALIVE``) reaching the upstream.

Both upstream kinds where it matters: the emulator as the Ollama host and a second one as an
OpenAI-compatible API. The raw bytes the client receives are what is checked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from local.emulator.faults import UNKNOWN_FIELD, UNKNOWN_VALUE
from local.emulator.testing import EmulatorHandle
from tests.support.auth import apply_env
from tests.support.chat import ChatStack, chat_body, content_of, serve_chat_stack, sse_events

pytestmark = pytest.mark.anyio

TEXT = "one two three four five six"
# The `evil` key as JSON writes it, and its value: neither may reach a client.
INJECTED = (f'"{UNKNOWN_FIELD}"', "<script>", UNKNOWN_VALUE)
MODELS = {"ollama": "emulator-chat", "openai": "remote-chat"}


def upstream_of(stack: ChatStack, remote: EmulatorHandle, kind: str) -> EmulatorHandle:
    return stack.emulator if kind == "ollama" else remote


def body(kind: str, text: str = TEXT, **extra: Any) -> dict[str, Any]:
    return {**chat_body(text, **extra), "model": MODELS[kind]}


@pytest.mark.parametrize("kind", ["ollama", "openai"])
@pytest.mark.parametrize("stream", [True, False])
async def test_unknown_fields_never_reach_the_client(
    mixed_stack: ChatStack, remote: EmulatorHandle, kind: str, stream: bool
):
    upstream = upstream_of(mixed_stack, remote, kind)
    upstream.set_faults(unknown_fields=True)
    extra: dict[str, Any] = {"stream": stream}
    if stream:
        extra["stream_options"] = {"include_usage": True}
    response = await mixed_stack.complete(mixed_stack.user, body(kind, **extra))
    assert response.status_code == 200, response.text
    raw = response.text
    assert not any(marker in raw for marker in INJECTED), raw[:500]
    # The answer itself still came through whole.
    expected = f"You said: {TEXT}"
    if stream:
        assert content_of(sse_events(raw)) == expected
    else:
        assert response.json()["choices"][0]["message"]["content"] == expected
    assert upstream.stats.streams_completed == 1


async def test_unknown_fields_are_not_saved_either(mixed_stack: ChatStack):
    mixed_stack.emulator.set_faults(unknown_fields=True)
    user = mixed_stack.user
    chat_id = await mixed_stack.new_chat(user)
    response = await mixed_stack.complete(user, body("ollama", chat_id=chat_id, stream=True))
    assert response.status_code == 200
    chat = await mixed_stack.http.get(f"/api/v1/chats/{chat_id}", headers=user.headers)
    assert not any(marker in chat.text for marker in INJECTED)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
async def test_a_huge_chunk_ends_in_an_error_event_and_the_upstream_is_closed(
    mixed_stack: ChatStack, remote: EmulatorHandle, kind: str
):
    upstream = upstream_of(mixed_stack, remote, kind)
    upstream.set_faults(huge_chunk_after=2, token_delay=0.01)
    user = mixed_stack.user
    chat_id = await mixed_stack.new_chat(user)
    response = await mixed_stack.complete(user, body(kind, chat_id=chat_id, stream=True))
    assert response.status_code == 200
    events = sse_events(response.text)
    assert "[DONE]" not in events
    assert "size limit" in events[-1]["error"]["message"]
    # None of the 2 MiB line was relayed.
    assert len(response.content) < 64 * 1024
    answer = (await mixed_stack.chat_messages(user, chat_id))[-1]
    assert answer["status"] == "error"
    assert answer["content"] == content_of(events)
    assert upstream.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


async def test_an_endless_stream_is_cut_by_the_time_cap_and_saved_as_interrupted(
    chat_stack: ChatStack,
):
    apply_env({"STRATUS_CHAT_MAX_SECONDS": "1"})
    chat_stack.emulator.set_faults(endless=True, token_delay=0.01)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    started = time.monotonic()
    response = await chat_stack.complete(user, chat_body(TEXT, chat_id=chat_id, stream=True))
    elapsed = time.monotonic() - started
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert 0.9 < elapsed < 5
    assert content_of(events).startswith(f"You said: {TEXT} more more")
    answer = (await chat_stack.chat_messages(user, chat_id))[-1]
    assert answer["status"] == "interrupted"
    assert answer["content"] == content_of(events)
    # Closing the upstream is what frees the GPU.
    assert chat_stack.emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


async def test_an_endless_stream_is_cut_by_the_size_cap(chat_stack: ChatStack):
    apply_env({"STRATUS_UPSTREAM_MAX_RESPONSE_BYTES": "16384"})
    chat_stack.emulator.set_faults(endless=True)
    response = await chat_stack.complete(chat_stack.user, chat_body(TEXT, stream=True))
    events = sse_events(response.text)
    assert "[DONE]" not in events
    assert "size limit" in events[-1]["error"]["message"]
    assert chat_stack.emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


async def test_an_endless_answer_that_is_not_streamed_is_a_502_at_the_cap(chat_stack: ChatStack):
    apply_env({"STRATUS_UPSTREAM_MAX_RESPONSE_BYTES": "16384"})
    chat_stack.emulator.set_faults(endless=True)
    response = await chat_stack.complete(chat_stack.user, chat_body(TEXT))
    assert response.status_code == 502
    assert "size limit" in response.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["ollama", "openai"])
async def test_bad_json_mid_stream_is_an_error_event(
    mixed_stack: ChatStack, remote: EmulatorHandle, kind: str
):
    upstream = upstream_of(mixed_stack, remote, kind)
    upstream.set_faults(bad_json_after=2)
    user = mixed_stack.user
    chat_id = await mixed_stack.new_chat(user)
    response = await mixed_stack.complete(user, body(kind, chat_id=chat_id, stream=True))
    events = sse_events(response.text)
    assert "[DONE]" not in events
    assert events[-1]["error"]["type"] == "upstream_error"
    answer = (await mixed_stack.chat_messages(user, chat_id))[-1]
    assert answer["status"] == "error"
    assert answer["content"] == content_of(events)


@pytest.mark.parametrize("kind", ["ollama", "openai"])
async def test_an_upstream_reset_is_an_error_event_on_either_upstream(
    mixed_stack: ChatStack, remote: EmulatorHandle, kind: str
):
    upstream = upstream_of(mixed_stack, remote, kind)
    upstream.set_faults(reset_after=3, token_delay=0.02)
    response = await mixed_stack.complete(mixed_stack.user, body(kind, stream=True))
    events = sse_events(response.text)
    assert "[DONE]" not in events
    assert "closed the connection" in events[-1]["error"]["message"]
    assert "127.0.0.1" not in response.text


# -- per-model options from configuration ------------------------------------------------------

OPTIONS_ENV = {
    "STRATUS_MODEL_NUM_CTX": "emulator-chat=16384;*=4096",
    "STRATUS_MODEL_KEEP_ALIVE": "emulator-chat=30m;*=120",
}


@pytest.fixture
async def options_stack(auth_env, emulator: EmulatorHandle) -> AsyncIterator[ChatStack]:
    """The stack started with per-model options: the model host reads them at start-up."""
    async with serve_chat_stack(emulator, OPTIONS_ENV) as stack:
        yield stack


async def test_per_model_num_ctx_and_keep_alive_reach_the_upstream(options_stack: ChatStack):
    chat_stack = options_stack
    stats = chat_stack.emulator.stats
    user, admin = chat_stack.user, chat_stack.admin
    ok = await chat_stack.complete(user, chat_body(TEXT, temperature=0.2))
    assert ok.status_code == 200
    sent = stats.last_body("/api/chat")
    assert sent["options"] == {"temperature": 0.2, "num_ctx": 16384}
    assert sent["keep_alive"] == "30m"
    think = await chat_stack.complete(admin, {**chat_body(TEXT), "model": "emulator-think"})
    assert think.status_code == 200
    sent = stats.last_body("/api/chat")
    assert sent["options"] == {"num_ctx": 4096}
    # Bare seconds go as a number: Ollama reads a string as a Go duration.
    assert sent["keep_alive"] == 120
    embedded = await chat_stack.http.post(
        "/v1/embeddings", json={"model": "nomic-embed-text", "input": "x"}, headers=user.headers
    )
    assert embedded.status_code == 200
    assert stats.last_body("/api/embed")["keep_alive"] == 120


async def test_a_client_cannot_set_keep_alive_on_v1(options_stack: ChatStack):
    chat_stack = options_stack
    response = await chat_stack.complete(chat_stack.user, chat_body(TEXT, keep_alive=-1))
    assert response.status_code == 200
    assert chat_stack.emulator.stats.last_body("/api/chat")["keep_alive"] == "30m"


async def test_without_configuration_no_options_are_invented(chat_stack: ChatStack):
    response = await chat_stack.complete(chat_stack.user, chat_body(TEXT))
    assert response.status_code == 200
    sent = chat_stack.emulator.stats.last_body("/api/chat")
    assert "options" not in sent
    assert "keep_alive" not in sent


async def test_the_ollama_passthrough_applies_the_configured_options_too(
    options_stack: ChatStack,
):
    # A client of the shared GPU must not pin a model (keep_alive -1) or resize its context
    # against the operator's settings, whichever API it uses.
    chat_stack = options_stack
    stats = chat_stack.emulator.stats
    headers = chat_stack.user.headers
    messages = [{"role": "user", "content": TEXT}]
    chat = {"model": "emulator-chat", "messages": messages, "stream": False}
    for body in (chat, {**chat, "keep_alive": -1, "options": {"num_ctx": 99, "seed": 4}}):
        response = await chat_stack.http.post("/ollama/api/chat", json=body, headers=headers)
        assert response.status_code == 200, response.text
        sent = stats.last_body("/api/chat")
        assert sent["keep_alive"] == "30m"
        assert sent["options"]["num_ctx"] == 16384
    # The client's other options are its own.
    assert sent["options"]["seed"] == 4
    generate = {"model": "emulator-think", "prompt": TEXT, "keep_alive": "24h"}
    response = await chat_stack.http.post(
        "/ollama/api/generate", json=generate, headers=chat_stack.admin.headers
    )
    assert response.status_code == 200
    sent = stats.last_body("/api/generate")
    assert (sent["keep_alive"], sent["options"]) == (120, {"num_ctx": 4096})
    embed = {"model": "nomic-embed-text", "input": "x", "keep_alive": -1}
    response = await chat_stack.http.post("/ollama/api/embed", json=embed, headers=headers)
    assert response.status_code == 200
    assert stats.last_body("/api/embed")["keep_alive"] == 120


async def test_without_configuration_the_passthrough_sends_the_clients_options(
    chat_stack: ChatStack,
):
    body = {
        "model": "emulator-chat",
        "messages": [{"role": "user", "content": TEXT}],
        "stream": False,
        "keep_alive": "1m",
        "options": {"num_ctx": 2048},
    }
    response = await chat_stack.http.post(
        "/ollama/api/chat", json=body, headers=chat_stack.user.headers
    )
    assert response.status_code == 200
    sent = chat_stack.emulator.stats.last_body("/api/chat")
    assert (sent["keep_alive"], sent["options"]) == ("1m", {"num_ctx": 2048})
