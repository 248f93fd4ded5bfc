"""The official ``ollama`` client against our ``/ollama`` passthrough on a live server.

``ollama.AsyncClient(host=<server>/ollama, headers=<our credentials>)``: the same client and
calls an Ollama user already has, with our auth and model allow-list in front (matrix row 23).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import ollama
import pytest

from local.emulator import (
    embed_text,
    expected_generate_reply,
    expected_reply,
    expected_thinking,
    expected_tool_call,
)
from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account, create_key
from tests.support.chat import ChatStack, serve_chat_stack

pytestmark = pytest.mark.anyio

CHAT = "emulator-chat"
MESSAGES: list[Any] = [{"role": "user", "content": "what is the capital of France"}]
REPLY = expected_reply(MESSAGES)
EMULATOR_MODELS = {
    "emulator-chat:latest",
    "emulator-think:latest",
    "emulator-embed:latest",
    "nomic-embed-text:latest",
}


def ollama_client(stack: ChatStack, headers: dict[str, str]) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=f"{stack.base_url}/ollama", headers=headers, timeout=20)


async def drain(stream: Any, received: list[str]) -> None:
    async for part in stream:
        received.append(part.message.content or "")


async def run_through(call: Callable[[], Awaitable[Any]]) -> None:
    """Make the call and, if it answered with a stream, read the stream to its end."""
    result = await call()
    if hasattr(result, "__aiter__"):
        async for _ in result:
            pass


@pytest.fixture
async def client(chat_stack: ChatStack) -> AsyncIterator[ollama.AsyncClient]:
    key = await create_key(chat_stack.http, chat_stack.user, name="ollama")
    async with ollama_client(chat_stack, {"Authorization": f"Bearer {key}"}) as sdk:
        yield sdk


async def test_list_and_show(client: ollama.AsyncClient):
    listed = {m.model: m for m in (await client.list()).models}
    assert set(listed) == EMULATOR_MODELS
    chat = listed["emulator-chat:latest"]
    assert chat.details is not None
    assert chat.details.format == "gguf"
    assert chat.size
    assert chat.digest
    shown = await client.show(CHAT)
    assert shown.capabilities == ["completion", "tools", "vision"]
    assert (await client.show("emulator-think")).capabilities == [
        "completion",
        "tools",
        "vision",
        "thinking",
    ]


async def test_chat_streamed_and_not(client: ollama.AsyncClient, chat_stack: ChatStack):
    parts = [part async for part in await client.chat(model=CHAT, messages=MESSAGES, stream=True)]
    assert [p.message.content for p in parts] == [*REPLY, ""]
    assert parts[-1].done is True
    assert parts[-1].done_reason == "stop"
    assert parts[-1].eval_count == len(REPLY)
    whole = await client.chat(model=CHAT, messages=MESSAGES, stream=False)
    assert whole.message.content == "".join(REPLY)
    assert whole.done is True
    # Ollama's default is to stream; the passthrough says so explicitly either way.
    assert [b["stream"] for b in chat_stack.emulator.stats.bodies("/api/chat")] == [True, False]


async def test_chat_with_thinking_and_tools(client: ollama.AsyncClient):
    thinking = await client.chat(model="emulator-think", messages=MESSAGES, think=True)
    assert thinking.message.thinking == "".join(expected_thinking(MESSAGES, "default"))
    assert thinking.message.content == "".join(REPLY)
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    ask: list[Any] = [{"role": "user", "content": "call get_weather Paris"}]
    answer = await client.chat(model=CHAT, messages=ask, tools=[tool])
    (call,) = answer.message.tool_calls or []
    expected = expected_tool_call(ask, [tool])
    assert expected is not None
    assert call.function.name == "get_weather"
    assert dict(call.function.arguments) == expected.arguments


async def test_generate_streamed_and_not(client: ollama.AsyncClient):
    tokens = expected_generate_reply("why is the sky blue")
    whole = await client.generate(model=CHAT, prompt="why is the sky blue")
    assert whole.response == "".join(tokens)
    assert whole.done is True
    parts = [
        p
        async for p in await client.generate(model=CHAT, prompt="why is the sky blue", stream=True)
    ]
    assert "".join(p.response or "" for p in parts) == "".join(tokens)
    assert parts[-1].done is True


async def test_embed(client: ollama.AsyncClient, chat_stack: ChatStack):
    single = await client.embed(model="nomic-embed-text", input="hello world")
    assert len(single.embeddings) == 1
    assert list(single.embeddings[0]) == pytest.approx(
        embed_text("hello world", model_dimensions=768), abs=1e-6
    )
    batch = await client.embed(model="emulator-embed", input=["a b", "c"])
    assert [list(v) for v in batch.embeddings] == [
        pytest.approx(embed_text("a b"), abs=1e-6),
        pytest.approx(embed_text("c"), abs=1e-6),
    ]
    assert chat_stack.emulator.stats.requests("POST /api/embed") == 2


async def test_ps_shows_a_model_once_used(client: ollama.AsyncClient):
    assert (await client.ps()).models == []
    await client.chat(model=CHAT, messages=MESSAGES)
    (loaded,) = (await client.ps()).models
    assert loaded.model == "emulator-chat:latest"
    assert loaded.size_vram


async def test_version_and_root(chat_stack: ChatStack):
    # The ollama client has no call for /api/version; Ollama's CLI reads it like this.
    headers = chat_stack.user.headers
    version = await chat_stack.http.get("/ollama/api/version", headers=headers)
    assert version.status_code == 200
    assert version.json() == {"version": "0.12.0"}
    root = await chat_stack.http.get("/ollama/", headers=headers)
    assert root.text == "Ollama is running"


async def test_a_missing_model_is_ollamas_404(client: ollama.AsyncClient, chat_stack: ChatStack):
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(model="no-such-model", messages=MESSAGES)
    assert caught.value.status_code == 404
    assert "no-such-model" in caught.value.error
    assert chat_stack.emulator.stats.requests("POST /api/chat") == 0


async def test_a_mid_stream_error_line_raises_in_the_client(
    client: ollama.AsyncClient, chat_stack: ChatStack
):
    chat_stack.emulator.set_faults(error_after=2)
    received: list[str] = []
    stream = await client.chat(model=CHAT, messages=MESSAGES, stream=True)
    with pytest.raises(ollama.ResponseError):
        await drain(stream, received)
    assert received == REPLY[:2]


async def test_no_credentials_no_access(chat_stack: ChatStack):
    async with ollama_client(chat_stack, {}) as anonymous:
        with pytest.raises(ollama.ResponseError) as caught:
            await anonymous.list()
    assert caught.value.status_code == 401
    assert chat_stack.emulator.stats.requests("GET /api/tags") == 0


async def _management_calls(sdk: ollama.AsyncClient, tmp_path: Path) -> list[ollama.ResponseError]:
    blob = tmp_path / "weights.gguf"
    blob.write_bytes(b"GGUF not really")
    calls = [
        lambda: sdk.pull("emulator-chat"),
        lambda: sdk.push("emulator-chat"),
        lambda: sdk.delete("emulator-chat"),
        lambda: sdk.copy("emulator-chat", "stolen"),
        lambda: sdk.create(model="mine", from_="emulator-chat"),
        lambda: sdk.create_blob(blob),
    ]
    errors = []
    for call in calls:
        with pytest.raises(ollama.ResponseError) as caught:
            await call()
        errors.append(caught.value)
    return errors


@pytest.mark.parametrize("who", ["user", "admin"])
async def test_management_calls_are_not_exposed(chat_stack: ChatStack, tmp_path: Path, who: str):
    account: Account = getattr(chat_stack, who)
    async with ollama_client(chat_stack, account.headers) as sdk:
        errors = await _management_calls(sdk, tmp_path)
    assert [e.status_code for e in errors] == [404] * 6
    assert chat_stack.emulator.stats.management_calls == 0
    assert chat_stack.emulator.stats.request_counts == {}


@pytest.fixture
async def allow_listed_stack(auth_env, emulator: EmulatorHandle) -> AsyncIterator[ChatStack]:
    """The stack started with an allow-list: the model host reads it at start-up."""
    allow = {"STRATUS_USER_MODELS": "emulator-chat;emulator-embed"}
    async with serve_chat_stack(emulator, allow) as stack:
        yield stack


async def test_the_allow_list_applies_on_every_route(allow_listed_stack: ChatStack):
    chat_stack = allow_listed_stack
    stats = chat_stack.emulator.stats
    async with ollama_client(chat_stack, chat_stack.user.headers) as user:
        listed = {m.model for m in (await user.list()).models}
        assert listed == {"emulator-chat:latest", "emulator-embed:latest"}
        await user.chat(model=CHAT, messages=MESSAGES)  # allowed: works
        before = stats.request_counts
        hidden = "emulator-think"
        refused = [
            lambda: user.chat(model=hidden, messages=MESSAGES),
            lambda: user.chat(model=hidden, messages=MESSAGES, stream=True),
            lambda: user.generate(model=hidden, prompt="hi"),
            lambda: user.embed(model="nomic-embed-text", input="hi"),
            lambda: user.embeddings(model="nomic-embed-text", prompt="hi"),
            lambda: user.show(hidden),
        ]
        for call in refused:
            with pytest.raises(ollama.ResponseError) as caught:
                await run_through(call)
            # Refused exactly like a model that does not exist.
            assert caught.value.status_code == 404
        # Nothing refused reached the model host.
        assert stats.request_counts == before
        running = {m.model for m in (await user.ps()).models}
        assert running == {"emulator-chat:latest"}
    async with ollama_client(chat_stack, chat_stack.admin.headers) as admin:
        assert {m.model for m in (await admin.list()).models} == EMULATOR_MODELS
        think = await admin.chat(model="emulator-think", messages=MESSAGES)
        assert think.message.content == "".join(REPLY)
        assert {m.model for m in (await admin.ps()).models} == {
            "emulator-chat:latest",
            "emulator-think:latest",
        }


async def test_the_passthrough_never_forwards_our_credentials(
    client: ollama.AsyncClient, chat_stack: ChatStack
):
    await client.chat(model=CHAT, messages=MESSAGES)
    await client.list()
    assert not any(r.has_authorization for r in chat_stack.emulator.stats.recent_requests)


async def test_raw_ndjson_streams_line_for_line(chat_stack: ChatStack):
    body = {"model": CHAT, "messages": MESSAGES}
    async with chat_stack.http.stream(
        "POST", "/ollama/api/chat", json=body, headers=chat_stack.user.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [line async for line in response.aiter_lines() if line]
    assert len(lines) == len(REPLY) + 1
    parsed = [json.loads(line) for line in lines]
    assert "".join(p["message"]["content"] for p in parsed) == "".join(REPLY)
    assert [p["done"] for p in parsed] == [False] * len(REPLY) + [True]
