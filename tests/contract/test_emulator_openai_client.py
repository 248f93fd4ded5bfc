"""The official `openai` client against the emulator's OpenAI-compatible /v1 API."""

from __future__ import annotations

import base64
import json

import openai
import pytest
from openai import OpenAI

from local.emulator import embed_text, expected_json, expected_reply, expected_thinking

CHAT = "emulator-chat"
THINK = "emulator-think"
EMBED = "emulator-embed"
MESSAGES = [{"role": "user", "content": "tell me a short story"}]
REPLY = expected_reply(MESSAGES)


@pytest.fixture
def client(emulator):
    # No retries: a retried 5xx would hide what the emulator actually answered.
    with OpenAI(
        base_url=f"{emulator.base_url}/v1", api_key="x", max_retries=0, timeout=10
    ) as client:
        yield client


def drain(stream, received):
    for chunk in stream:
        received.append(chunk)


def test_models_list(client):
    models = client.models.list()
    assert {model.id for model in models} == {
        "emulator-chat:latest",
        "emulator-think:latest",
        "emulator-embed:latest",
        "nomic-embed-text:latest",
    }
    assert all(model.owned_by == "library" for model in models)
    assert client.models.retrieve("emulator-chat").id == "emulator-chat:latest"


def test_chat_non_stream(client):
    completion = client.chat.completions.create(model=CHAT, messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    (choice,) = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "You said: tell me a short story"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == len(REPLY)
    assert completion.usage.total_tokens == 5 + len(REPLY)


def test_chat_stream_chunks(client):
    chunks = list(client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True))
    assert len({chunk.id for chunk in chunks}) == 1
    assert len({chunk.created for chunk in chunks}) == 1
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    deltas = [chunk.choices[0].delta for chunk in chunks]
    assert [delta.role for delta in deltas] == ["assistant"] + [None] * (len(deltas) - 1)
    assert [delta.content for delta in deltas[:-1]] == REPLY
    reasons = [chunk.choices[0].finish_reason for chunk in chunks]
    assert reasons == [None] * len(REPLY) + ["stop"]
    assert all(chunk.usage is None for chunk in chunks)


def test_chat_stream_include_usage(client):
    chunks = list(
        client.chat.completions.create(
            model=CHAT,
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    *content, usage_chunk = chunks
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == len(REPLY)
    assert usage_chunk.usage.prompt_tokens == 5
    assert usage_chunk.id == content[0].id
    assert all(chunk.usage is None for chunk in content)
    assert content[-1].choices[0].finish_reason == "stop"


def test_max_tokens_finishes_with_length(client):
    completion = client.chat.completions.create(model=CHAT, messages=MESSAGES, max_tokens=2)
    assert completion.choices[0].message.content == "".join(REPLY[:2])
    assert completion.choices[0].finish_reason == "length"


def test_max_tokens_must_be_positive(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=CHAT, messages=MESSAGES, max_tokens=0)


def test_embeddings_default_base64_transport(client, emulator):
    response = client.embeddings.create(model=EMBED, input=["alpha beta", "gamma"])
    # The client asks for base64 unless told otherwise, then decodes it to floats.
    assert emulator.stats.last_body("/v1/embeddings")["encoding_format"] == "base64"
    assert [item.index for item in response.data] == [0, 1]
    assert response.data[0].embedding == pytest.approx(embed_text("alpha beta"), abs=1e-6)
    assert response.data[1].embedding == pytest.approx(embed_text("gamma"), abs=1e-6)
    assert response.usage.prompt_tokens == 3
    assert response.model == EMBED


def test_embeddings_float_format(client):
    response = client.embeddings.create(model=EMBED, input="alpha beta", encoding_format="float")
    assert response.data[0].embedding == pytest.approx(embed_text("alpha beta"))


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="missing", messages=MESSAGES)
    assert caught.value.status_code == 404
    assert caught.value.body == {
        "message": "model 'missing' not found, try pulling it first",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="missing", input="x")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("missing")


def test_mid_stream_error_raises_api_error(client, emulator):
    emulator.set_faults(error_after=2)
    received: list[object] = []
    stream = client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="emulated fault"):
        drain(stream, received)
    assert len(received) == 2


def test_dropped_stream_raises_connection_error(client, emulator):
    emulator.set_faults(reset_after=1)
    received: list[object] = []
    stream = client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError):
        drain(stream, received)
    assert len(received) == 1


def test_fail_status_surfaces_as_status_error(client, emulator):
    emulator.set_faults(fail_status=503)
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model=CHAT, messages=MESSAGES)
    assert caught.value.status_code == 503


def test_api_key_is_checked(emulator):
    emulator.set_faults(require_api_key="sekrit")
    base_url = f"{emulator.base_url}/v1"
    with (
        OpenAI(base_url=base_url, api_key="wrong", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()
    with OpenAI(base_url=base_url, api_key="sekrit", max_retries=0) as client:
        assert len(client.models.list().data) == 4


# Tools, reasoning, images, JSON mode, embedding sizes and hostile chunks, through the client.

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
        },
    },
}
ASK_TOOL = [{"role": "user", "content": "use get_weather Oslo"}]
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()


def test_tool_call_without_streaming(client):
    completion = client.chat.completions.create(model=CHAT, messages=ASK_TOOL, tools=[WEATHER])
    (choice,) = completion.choices
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo", "unit": "C"}


def test_tool_call_streams_as_deltas(client):
    chunks = list(
        client.chat.completions.create(model=CHAT, messages=ASK_TOOL, tools=[WEATHER], stream=True)
    )
    call_chunk, closing = chunks
    (call,) = call_chunk.choices[0].delta.tool_calls or []
    assert call_chunk.choices[0].delta.role == "assistant"
    assert call.index == 0
    assert call.id is not None
    assert call.id.startswith("call_")
    assert call.type == "function"
    assert call.function is not None
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments or "") == {"city": "Oslo", "unit": "C"}
    assert closing.choices[0].finish_reason == "tool_calls"


def test_a_tool_result_names_the_call_it_answers(client):
    messages = [
        *ASK_TOOL,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": "snow"},
    ]
    completion = client.chat.completions.create(model=CHAT, messages=messages, tools=[WEATHER])
    assert completion.choices[0].message.content == "Tool get_weather said: snow"
    assert completion.choices[0].finish_reason == "stop"


def test_reasoning_streams_before_content(client):
    chunks = list(
        client.chat.completions.create(
            model=THINK,
            messages=MESSAGES,
            reasoning_effort="high",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    *content_chunks, usage_chunk = chunks
    deltas = [chunk.choices[0].delta for chunk in content_chunks[:-1]]
    reasoning = [getattr(delta, "reasoning", None) for delta in deltas]
    thinking = expected_thinking(MESSAGES, "high")
    assert reasoning[: len(thinking)] == thinking
    assert [delta.content for delta in deltas[len(thinking) :]] == REPLY
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == len(thinking) + len(REPLY)


def test_reasoning_without_streaming_and_effort_none(client):
    completion = client.chat.completions.create(
        model=THINK, messages=MESSAGES, reasoning_effort="low"
    )
    message = completion.choices[0].message
    assert getattr(message, "reasoning", None) == "".join(expected_thinking(MESSAGES, "low"))
    assert message.content == "".join(REPLY)
    plain = client.chat.completions.create(model=THINK, messages=MESSAGES, reasoning_effort="none")
    assert getattr(plain.choices[0].message, "reasoning", None) is None


def test_reasoning_on_a_model_that_cannot_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT, messages=MESSAGES, reasoning_effort="high")
    assert caught.value.body == {
        "message": '"emulator-chat" does not support thinking',
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_image_parts_arrive_and_are_counted(client, emulator):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is"},
                {"type": "image_url", "image_url": {"url": PNG}},
                {"type": "text", "text": "this"},
            ],
        }
    ]
    completion = client.chat.completions.create(model=CHAT, messages=messages)
    assert completion.choices[0].message.content == "You said: what is this (1 image)"
    assert emulator.stats.images_seen == 1


def test_an_image_link_is_refused_like_ollama_does(client):
    messages = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}
    ]
    with pytest.raises(openai.BadRequestError, match="invalid image input"):
        client.chat.completions.create(model=CHAT, messages=messages)


def test_json_object_and_json_schema_formats(client):
    plain = client.chat.completions.create(
        model=CHAT, messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert json.loads(plain.choices[0].message.content or "") == {"text": "tell me a short story"}
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "words": {"type": "integer"}},
        "required": ["title", "words"],
    }
    shaped = client.chat.completions.create(
        model=CHAT,
        messages=MESSAGES,
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    )
    answer = json.loads(shaped.choices[0].message.content or "")
    assert answer == {"title": "tell me a short story", "words": 5}
    assert answer == expected_json(MESSAGES, schema)


def test_nomic_embeddings_have_768_dimensions(client):
    response = client.embeddings.create(model="nomic-embed-text", input="alpha")
    assert len(response.data[0].embedding) == 768
    assert response.data[0].embedding == pytest.approx(
        embed_text("alpha", model_dimensions=768), abs=1e-6
    )


def test_the_client_tolerates_unknown_fields(client, emulator):
    emulator.set_faults(unknown_fields=True)
    chunks = list(client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True))
    assert [chunk.choices[0].delta.content for chunk in chunks[:-1]] == REPLY
    completion = client.chat.completions.create(model=CHAT, messages=MESSAGES)
    assert completion.choices[0].message.content == "".join(REPLY)
