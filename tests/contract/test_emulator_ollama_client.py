"""The official `ollama` client against the emulator: the wire format must satisfy it."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime

import httpx
import ollama
import pydantic
import pytest

from local.emulator import (
    embed_text,
    expected_generate_reply,
    expected_json,
    expected_reply,
    expected_thinking,
    expected_tool_call,
)
from local.emulator.delivery import INJECTED_ERROR

CHAT = "emulator-chat"
THINK = "emulator-think"
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
    assert set(models) == {
        "emulator-chat:latest",
        "emulator-think:latest",
        "emulator-embed:latest",
        "nomic-embed-text:latest",
    }
    chat = models["emulator-chat:latest"]
    assert chat.details is not None
    assert chat.details.format == "gguf"
    assert chat.size is not None
    assert chat.size > 0
    assert chat.digest is not None
    assert len(chat.digest) == 64


def test_show(client):
    chat = client.show(CHAT)
    assert chat.capabilities == ["completion", "tools", "vision"]
    assert client.show("emulator-think").capabilities == [
        "completion",
        "tools",
        "vision",
        "thinking",
    ]
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


# Tools, thinking, images, JSON mode, embedding sizes and hostile chunks, through the client.

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
ASK_TOOL = [{"role": "user", "content": "please call get_weather Paris tomorrow"}]


def test_tool_call_whole_in_one_chunk_then_done(client):
    parts = list(client.chat(model=CHAT, messages=ASK_TOOL, tools=[WEATHER], stream=True))
    call_chunk, final = parts
    (call,) = call_chunk.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert dict(call.function.arguments) == {"city": "Paris tomorrow", "days": 2}
    assert call_chunk.message.content == ""
    assert final.done is True
    assert final.done_reason == "stop"
    assert final.eval_count == 1


def test_tool_call_matches_the_prediction_without_streaming(client):
    response = client.chat(model=CHAT, messages=ASK_TOOL, tools=[WEATHER])
    (call,) = response.message.tool_calls or []
    expected = expected_tool_call(ASK_TOOL, [WEATHER])
    assert expected is not None
    assert (call.function.name, dict(call.function.arguments)) == (
        expected.name,
        expected.arguments,
    )


def test_no_tool_call_unless_asked_for_an_offered_tool(client):
    for text in ("what is the weather", "call get_time now"):
        response = client.chat(
            model=CHAT, messages=[{"role": "user", "content": text}], tools=[WEATHER]
        )
        assert not response.message.tool_calls
        assert response.message.content == f"You said: {text}"


def test_a_tool_result_is_answered_with_its_content(client):
    messages = [
        *ASK_TOOL,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "sunny,  21 C"},
    ]
    response = client.chat(model=CHAT, messages=messages, tools=[WEATHER])
    assert response.message.content == "Tool get_weather said: sunny, 21 C"
    assert not response.message.tool_calls


def test_thinking_streams_first_then_the_answer(client):
    parts = list(client.chat(model=THINK, messages=MESSAGES, think=True, stream=True))
    thinking = [p.message.thinking for p in parts if p.message.thinking]
    content = [p.message.content for p in parts if p.message.content]
    assert thinking == expected_thinking(MESSAGES)
    assert content == REPLY
    first_content = next(i for i, p in enumerate(parts) if p.message.content)
    assert all(p.message.thinking for p in parts[:first_content])
    assert parts[-1].eval_count == len(thinking) + len(content)


def test_thinking_level_and_non_streamed_thinking(client):
    response = client.chat(model=THINK, messages=MESSAGES, think="high")
    assert response.message.thinking == "".join(expected_thinking(MESSAGES, "high"))
    assert response.message.content == "".join(REPLY)


def test_a_thinking_model_without_think_just_answers(client):
    response = client.chat(model=THINK, messages=MESSAGES)
    assert not response.message.thinking
    assert response.message.content == "".join(REPLY)


def test_think_on_a_model_that_cannot_is_a_400(client):
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model=CHAT, messages=MESSAGES, think=True)
    assert caught.value.status_code == 400
    assert caught.value.error == '"emulator-chat" does not support thinking'
    # Turning it off is always fine.
    assert client.chat(model=CHAT, messages=MESSAGES, think=False).message.content


def test_images_arrive_and_are_counted(client, emulator):
    messages = [{"role": "user", "content": "what is this", "images": [b"\x89PNG fake", b"GIF8"]}]
    response = client.chat(model=CHAT, messages=messages)
    assert response.message.content == "You said: what is this (2 images)"
    assert emulator.stats.images_seen == 2
    sent = emulator.stats.last_body("/api/chat")["messages"][0]["images"]
    assert [base64.b64decode(image) for image in sent] == [b"\x89PNG fake", b"GIF8"]


def test_json_mode(client):
    response = client.chat(model=CHAT, messages=MESSAGES, format="json")
    assert json.loads(response.message.content or "") == {"text": "what is the capital of France"}


def test_json_schema_format_gives_a_valid_object(client):
    class Answer(pydantic.BaseModel):
        city: str
        population: int
        capital: bool
        tags: list[str]

    response = client.chat(model=CHAT, messages=MESSAGES, format=Answer.model_json_schema())
    answer = Answer.model_validate_json(response.message.content or "")
    assert answer.city == "what is the capital of France"
    assert answer.population == 6
    assert answer.tags == ["what", "is", "the", "capital", "of", "France"]
    assert json.loads(response.message.content or "") == expected_json(
        MESSAGES, Answer.model_json_schema()
    )


def test_nomic_embed_text_has_768_dimensions(client):
    vector = client.embed(model="nomic-embed-text", input="hello world").embeddings[0]
    assert len(vector) == 768
    assert list(vector) == pytest.approx(embed_text("hello world", model_dimensions=768))
    modelinfo = client.show("nomic-embed-text").modelinfo or {}
    assert modelinfo["bert.embedding_length"] == 768
    assert (
        len(client.embed(model="nomic-embed-text", input="x", dimensions=256).embeddings[0]) == 256
    )


def test_the_client_tolerates_unknown_fields(client, emulator):
    emulator.set_faults(unknown_fields=True)
    parts = list(client.chat(model=CHAT, messages=MESSAGES, stream=True))
    assert [p.message.content for p in parts[:-1]] == REPLY
    assert parts[-1].done is True
