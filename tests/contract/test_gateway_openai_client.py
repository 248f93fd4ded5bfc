"""The official ``openai`` client against our ``/v1`` on a live server, the emulator upstream.

Each test uses the SDK exactly as an application would: base URL ``<server>/v1`` and an ``sk-``
key made through the API. Whatever the SDK parses, raises or assembles is what a user sees.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageFunctionToolCall

from local.emulator import (
    embed_text,
    expected_json,
    expected_reply,
    expected_thinking,
    expected_tool_call,
)
from tests.support.auth import apply_env, create_key
from tests.support.chat import ChatStack, serve_chat_stack

pytestmark = pytest.mark.anyio

CHAT = "emulator-chat"
THINK = "emulator-think"
QUESTION = "tell me a short story"
MESSAGES: list[Any] = [{"role": "user", "content": QUESTION}]
REPLY = expected_reply(MESSAGES)
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
        },
    },
}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake image").decode()


async def drain(stream: Any, received: list[Any]) -> None:
    async for chunk in stream:
        received.append(chunk)


@pytest.fixture
async def client(chat_stack: ChatStack) -> AsyncIterator[AsyncOpenAI]:
    key = await create_key(chat_stack.http, chat_stack.user, name="sdk")
    # No retries: a retried request would hide what the gateway answered the first time.
    async with AsyncOpenAI(
        base_url=f"{chat_stack.base_url}/v1", api_key=key, max_retries=0, timeout=20
    ) as sdk:
        yield sdk


async def test_models_list_names_every_emulator_model(client: AsyncOpenAI):
    page = await client.models.list()
    assert page.object == "list"
    assert {m.id for m in page.data} == {
        "emulator-chat:latest",
        "emulator-think:latest",
        "emulator-embed:latest",
        "nomic-embed-text:latest",
    }
    assert all(m.object == "model" and m.owned_by == "ollama" for m in page.data)


async def test_models_retrieve_gives_the_listed_model_object(client: AsyncOpenAI):
    listed = {m.id: m for m in (await client.models.list()).data}
    model = await client.models.retrieve(CHAT)
    # The bare name finds the model under its full id, as a completion naming it would.
    assert model.id == "emulator-chat:latest"
    assert model == listed[model.id]
    assert model.object == "model"
    assert model.owned_by == "ollama"
    assert isinstance(model.created, int)
    assert await client.models.retrieve("emulator-embed:latest") == listed["emulator-embed:latest"]


@pytest.mark.parametrize("name", ["no-such-model", "hf.co/org/no-such-model:q4"])
async def test_models_retrieve_of_an_unknown_model_is_model_not_found(
    client: AsyncOpenAI, name: str
):
    with pytest.raises(openai.NotFoundError) as caught:
        await client.models.retrieve(name)
    # The route's own answer (a slash in the id included), not a 404 for a path nothing serves.
    assert caught.value.code == "model_not_found"
    assert caught.value.type == "not_found_error"
    assert name in caught.value.message


async def test_models_retrieve_of_a_model_the_user_may_not_use_is_model_not_found(
    auth_env, emulator
):
    allow = {"STRATUS_USER_MODELS": "emulator-chat"}
    async with serve_chat_stack(emulator, allow) as stack:
        user_key = await create_key(stack.http, stack.user, name="sdk")
        admin_key = await create_key(stack.http, stack.admin, name="sdk")
        base_url = f"{stack.base_url}/v1"
        async with AsyncOpenAI(base_url=base_url, api_key=user_key, max_retries=0) as user:
            assert (await user.models.retrieve(CHAT)).id == "emulator-chat:latest"
            with pytest.raises(openai.NotFoundError) as caught:
                await user.models.retrieve(THINK)
            assert caught.value.code == "model_not_found"
        async with AsyncOpenAI(base_url=base_url, api_key=admin_key, max_retries=0) as admin:
            assert (await admin.models.retrieve(THINK)).id == "emulator-think:latest"


async def test_a_non_streamed_completion(client: AsyncOpenAI, chat_stack: ChatStack):
    raw = await client.chat.completions.with_raw_response.create(model=CHAT, messages=MESSAGES)
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id == f"chatcmpl-{raw.headers['x-stratus-task-id']}"
    (choice,) = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "".join(REPLY)
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(REPLY)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + len(REPLY)
    assert chat_stack.emulator.stats.requests("POST /api/chat") == 1


async def test_a_streamed_completion_ends_with_the_usage_chunk(client: AsyncOpenAI):
    stream = await client.chat.completions.create(
        model=CHAT, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    *content, usage_chunk = chunks
    assert len({c.id for c in chunks}) == 1
    assert len({c.created for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert content[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in content[1:])
    assert "".join(c.choices[0].delta.content or "" for c in content) == "".join(REPLY)
    assert content[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in content)
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == len(REPLY)
    assert usage_chunk.usage.total_tokens == (
        usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    )


async def test_streamed_tool_call_deltas_are_assembled_by_the_sdk(client: AsyncOpenAI):
    messages: list[Any] = [{"role": "user", "content": "call get_weather Oslo"}]
    async with client.chat.completions.stream(
        model=CHAT, messages=messages, tools=[WEATHER]
    ) as stream:
        events = [event async for event in stream]
        completion = await stream.get_final_completion()
    (choice,) = completion.choices
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    expected = expected_tool_call(messages, [WEATHER])
    assert expected is not None
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.id
    assert call.function.name == "get_weather"
    assert (
        json.loads(call.function.arguments) == expected.arguments == {"city": "Oslo", "unit": "C"}
    )
    # The SDK saw real tool-call deltas, not a finished message.
    assert any(e.type == "tool_calls.function.arguments.done" for e in events)


async def test_a_non_streamed_tool_call(client: AsyncOpenAI):
    messages: list[Any] = [{"role": "user", "content": "use get_weather Paris"}]
    completion = await client.chat.completions.create(
        model=CHAT, messages=messages, tools=[WEATHER]
    )
    (choice,) = completion.choices
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "C"}


async def test_json_mode_sends_ollamas_format_and_returns_json(
    client: AsyncOpenAI, chat_stack: ChatStack
):
    completion = await client.chat.completions.create(
        model=CHAT, messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert chat_stack.emulator.stats.last_body("/api/chat")["format"] == "json"
    answer = json.loads(completion.choices[0].message.content or "")
    assert answer == expected_json(MESSAGES) == {"text": QUESTION}


async def test_a_json_schema_is_sent_as_the_format(client: AsyncOpenAI, chat_stack: ChatStack):
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "words": {"type": "integer"}},
        "required": ["title", "words"],
    }
    completion = await client.chat.completions.create(
        model=CHAT,
        messages=MESSAGES,
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    )
    assert chat_stack.emulator.stats.last_body("/api/chat")["format"] == schema
    assert json.loads(completion.choices[0].message.content or "") == expected_json(
        MESSAGES, schema
    )


async def test_a_reasoning_models_thinking_is_reasoning_content(client: AsyncOpenAI):
    thinking = expected_thinking(MESSAGES, "default")
    stream = await client.chat.completions.create(
        model=THINK, messages=MESSAGES, reasoning_effort="high", stream=True
    )
    deltas = [c.choices[0].delta async for c in stream if c.choices]
    # The SDK keeps fields it has no attribute for in model_extra.
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    assert reasoning == "".join(thinking)
    assert content == "".join(REPLY)
    assert not any(d.content and (d.model_extra or {}).get("reasoning_content") for d in deltas)

    whole = await client.chat.completions.create(
        model=THINK, messages=MESSAGES, reasoning_effort="low"
    )
    message = whole.choices[0].message
    assert (message.model_extra or {}).get("reasoning_content") == "".join(thinking)
    assert message.content == "".join(REPLY)


async def test_an_image_data_uri_reaches_the_model(client: AsyncOpenAI, chat_stack: ChatStack):
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is in"},
                {"type": "image_url", "image_url": {"url": PNG}},
                {"type": "text", "text": "this picture"},
            ],
        }
    ]
    completion = await client.chat.completions.create(model=CHAT, messages=messages)
    assert completion.choices[0].message.content == "You said: what is in this picture (1 image)"
    assert chat_stack.emulator.stats.images_seen == 1
    sent = chat_stack.emulator.stats.last_body("/api/chat")["messages"][-1]
    assert sent["images"] == [PNG.partition(",")[2]]


async def test_embeddings_in_the_sdks_default_base64_and_in_floats(
    client: AsyncOpenAI, chat_stack: ChatStack
):
    # The SDK asks for base64 by default and decodes it back to floats.
    default = await client.embeddings.create(
        model="nomic-embed-text", input=["alpha beta", "gamma"]
    )
    assert [item.index for item in default.data] == [0, 1]
    assert len(default.data[0].embedding) == 768
    assert default.data[0].embedding == pytest.approx(
        embed_text("alpha beta", model_dimensions=768), abs=1e-6
    )
    assert default.data[1].embedding == pytest.approx(
        embed_text("gamma", model_dimensions=768), abs=1e-6
    )
    floats = await client.embeddings.create(
        model="nomic-embed-text", input="alpha beta", encoding_format="float"
    )
    assert floats.data[0].embedding == pytest.approx(
        embed_text("alpha beta", model_dimensions=768), abs=1e-6
    )
    assert floats.usage.prompt_tokens > 0
    # Both went upstream as one batched /api/embed call each.
    assert chat_stack.emulator.stats.requests("POST /api/embed") == 2


async def test_a_mid_stream_error_event_makes_the_sdk_raise(
    client: AsyncOpenAI, chat_stack: ChatStack
):
    chat_stack.emulator.set_faults(error_after=2)
    received: list[Any] = []
    stream = await client.chat.completions.create(model=CHAT, messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as caught:
        await drain(stream, received)
    assert caught.value.message == "The model host reported an error while generating the answer."
    assert caught.value.type == "upstream_error"
    assert "".join(c.choices[0].delta.content or "" for c in received) == "".join(REPLY[:2])


async def test_an_unknown_model_is_a_not_found_error(client: AsyncOpenAI, chat_stack: ChatStack):
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        await client.embeddings.create(model="no-such-model", input="x")
    assert chat_stack.emulator.stats.requests("POST /api/chat") == 0


async def test_over_the_rate_limit_the_sdk_raises_rate_limit_error(
    client: AsyncOpenAI, chat_stack: ChatStack
):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "2"})
    for _ in range(2):
        await client.chat.completions.create(model=CHAT, messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=CHAT, messages=MESSAGES)
    assert caught.value.status_code == 429
    assert caught.value.type == "rate_limit_error"
    assert int(caught.value.response.headers["retry-after"]) >= 1


async def test_a_bad_key_is_an_authentication_error(chat_stack: ChatStack):
    async with AsyncOpenAI(
        base_url=f"{chat_stack.base_url}/v1", api_key="sk-" + "0" * 48, max_retries=0
    ) as sdk:
        with pytest.raises(openai.AuthenticationError):
            await sdk.models.list()
