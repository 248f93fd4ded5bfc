"""The official `ollama` client against the emulator: the wire format must satisfy it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import ollama
import pytest

from local.emulator import embed_text, expected_generate_reply, expected_reply
from local.emulator.delivery import INJECTED_ERROR

CHAT = "emulator-chat"
EMBED = "emulator-embed"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "what is the capital of France"},
]
REPLY = expected_reply(MESSAGES)


@pytest.fixture
def client(emulator):
    with ollama.Client(host=emulator.base_url, timeout=10) as client:
        yield client


def test_list(client):
    models = {model.model: model for model in client.list().models}
    assert set(models) == {"emulator-chat:latest", "emulator-embed:latest"}
    chat = models["emulator-chat:latest"]
    assert chat.details is not None
    assert chat.details.format == "gguf"
    assert chat.size is not None
    assert chat.size > 0
    assert chat.digest is not None
    assert len(chat.digest) == 64


def test_show(client):
    chat = client.show(CHAT)
    assert chat.capabilities == ["completion"]
    assert chat.modelinfo is not None
    assert chat.modelinfo["general.architecture"] == "llama"
    assert chat.template
    embed = client.show(f"{EMBED}:latest")
    assert embed.capabilities == ["embedding"]
    assert embed.modelinfo is not None
    assert embed.modelinfo["bert.embedding_length"] == 384


def test_show_unknown_model(client):
    with pytest.raises(ollama.ResponseError) as caught:
        client.show("missing")
    assert caught.value.status_code == 404
    assert (
        caught.value.error == "model 'missing:latest' not found" or "missing" in caught.value.error
    )


def test_chat_stream(client):
    parts = list(client.chat(model=CHAT, messages=MESSAGES, stream=True))
    *chunks, final = parts
    assert [chunk.message.content for chunk in chunks] == REPLY
    assert all(chunk.message.role == "assistant" and chunk.done is False for chunk in chunks)
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.message.content == ""
    assert final.eval_count == len(REPLY)
    assert final.prompt_eval_count == 9  # whitespace words across both messages
    assert final.total_duration is not None
    assert final.total_duration > 0
    assert final.model == CHAT


def test_chat_non_stream(client):
    response = client.chat(model=CHAT, messages=MESSAGES, stream=False)
    assert response.message.content == "You said: what is the capital of France"
    assert response.done is True
    assert response.done_reason == "stop"
    assert response.eval_count == len(REPLY)


def test_chat_num_predict_stops_with_length(client):
    response = client.chat(model=CHAT, messages=MESSAGES, options={"num_predict": 3})
    assert response.message.content == "".join(REPLY[:3])
    assert response.done_reason == "length"
    assert response.eval_count == 3


def test_generate(client):
    tokens = expected_generate_reply("why is the sky blue")
    parts = list(client.generate(model=CHAT, prompt="why is the sky blue", stream=True))
    assert [part.response for part in parts[:-1]] == tokens
    final = parts[-1]
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.context is not None
    # The prompt's five words, then the reply's tokens.
    assert len(final.context) == 5 + len(tokens)

    whole = client.generate(model=CHAT, prompt="why is the sky blue", context=[1, 2])
    assert whole.response == "".join(tokens)
    assert whole.context is not None
    assert list(whole.context[:2]) == [1, 2]


def test_embed_single_and_batch(client):
    single = client.embed(model=EMBED, input="hello world")
    assert len(single.embeddings) == 1
    assert single.embeddings[0] == pytest.approx(embed_text("hello world"))

    batch = client.embed(model=EMBED, input=["first text", "second text", "third"])
    assert [list(vector) for vector in batch.embeddings] == [
        pytest.approx(embed_text(text)) for text in ("first text", "second text", "third")
    ]
    assert batch.prompt_eval_count == 5


def test_legacy_embeddings(client):
    response = client.embeddings(model=EMBED, prompt="hello world")
    assert response.embedding == pytest.approx(embed_text("hello world"))


def test_ps_lists_models_once_used(client):
    assert client.ps().models == []
    client.chat(model=CHAT, messages=MESSAGES)
    (loaded,) = client.ps().models
    assert loaded.model == "emulator-chat:latest"
    assert loaded.expires_at is not None
    assert loaded.expires_at > datetime.now(UTC)
    assert loaded.size_vram is not None
    assert loaded.size_vram > 0


def test_keep_alive_zero_unloads(client):
    client.chat(model=CHAT, messages=MESSAGES)
    response = client.chat(model=CHAT, messages=[], keep_alive=0)
    assert response.done_reason == "unload"
    assert client.ps().models == []


def test_version(emulator):
    # The ollama client has no call for /api/version, so read it the way Ollama's CLI does.
    response = httpx.get(f"{emulator.base_url}/api/version", timeout=5)
    assert response.status_code == 200
    assert response.json()["version"].count(".") == 2


def stream_contents(client, received, **kwargs):
    """Collects streamed message contents into `received` until the stream ends or raises."""
    for part in client.chat(model=CHAT, messages=MESSAGES, stream=True, **kwargs):
        received.append(part.message.content)


def test_unknown_model_raises_404(client):
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="missing", messages=MESSAGES, stream=False)
    assert caught.value.status_code == 404
    assert caught.value.error == "model 'missing' not found, try pulling it first"


def test_unknown_model_raises_404_when_streaming(client):
    stream = client.chat(model="missing", messages=MESSAGES, stream=True)
    with pytest.raises(ollama.ResponseError) as caught:
        next(stream)
    assert caught.value.status_code == 404


def test_mid_stream_error_line_raises_during_iteration(client, emulator):
    emulator.set_faults(error_after=2)
    received: list[str] = []
    with pytest.raises(ollama.ResponseError) as caught:
        stream_contents(client, received)
    assert received == REPLY[:2]
    assert caught.value.error == INJECTED_ERROR


def test_fault_header_through_client_headers(emulator):
    client = ollama.Client(host=emulator.base_url, headers={"x-emulator-fault": "error_after=0"})
    with client, pytest.raises(ollama.ResponseError):
        list(client.chat(model=CHAT, messages=MESSAGES, stream=True))
    assert emulator.stats.streams_faulted == 1


def test_async_client(emulator):
    async def scenario() -> tuple[list[str], list[list[float]], list[str]]:
        async with ollama.AsyncClient(host=emulator.base_url, timeout=10) as client:
            names = [model.model or "" for model in (await client.list()).models]
            stream = await client.chat(model=CHAT, messages=MESSAGES, stream=True)
            contents = [part.message.content or "" async for part in stream]
            embedded = await client.embed(model=EMBED, input=["a b", "c"])
            return names, [list(v) for v in embedded.embeddings], contents

    names, vectors, contents = asyncio.run(scenario())
    assert "emulator-chat:latest" in names
    assert contents == [*REPLY, ""]
    assert vectors == [pytest.approx(embed_text("a b")), pytest.approx(embed_text("c"))]


def test_async_client_mid_stream_error(emulator):
    emulator.set_faults(error_after=1)

    async def scenario() -> list[str]:
        received: list[str] = []
        async with ollama.AsyncClient(host=emulator.base_url, timeout=10) as client:
            stream = await client.chat(model=CHAT, messages=MESSAGES, stream=True)
            async for part in stream:
                received.append(part.message.content or "")
        return received

    with pytest.raises(ollama.ResponseError, match="emulated fault"):
        asyncio.run(scenario())
