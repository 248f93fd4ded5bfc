"""The translation layer against the model-host emulator's wire protocol: a request translated
for Ollama (or for an OpenAI-compatible upstream, Ollama's own /v1) is accepted and understood,
and the real stream translates into the chunks a client expects, hostile faults included.

No gateway code here: the bodies go out over plain HTTP and the lines come back into the
translators, as the engine will do it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import msgspec
import pytest

from functions.chat.schemas.completion import ChatCompletionChunk
from functions.chat.schemas.openai import ChatCompletionRequest
from functions.chat.translate import (
    OllamaChatStream,
    OpenAIChatStream,
    UpstreamStreamError,
    ollama_chat_body,
    openai_chat_body,
)
from local.emulator import expected_reply, expected_thinking

PIXELS = base64.b64encode(b"\x89PNG fake pixels").decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def request(**fields: Any) -> ChatCompletionRequest:
    body = {"model": "whatever-the-client-calls-it", "stream": True} | fields
    return msgspec.json.decode(msgspec.json.encode(body), type=ChatCompletionRequest)


def run_ollama(
    emulator: Any, req: ChatCompletionRequest, model: str = "emulator-chat", **headers: str
) -> tuple[OllamaChatStream, list[dict[str, Any]]]:
    body = ollama_chat_body(req, upstream_model=model, num_ctx=2048, keep_alive="1m")
    translator = OllamaChatStream(
        completion_id="chatcmpl-t", created=1, model="m", tools_sent=bool(req.tools)
    )
    chunks: list[dict[str, Any]] = []
    with httpx.stream(
        "POST", f"{emulator.base_url}/api/chat", json=body, headers=headers, timeout=10
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            chunks.extend(translator.feed(line.encode()))
    return translator, checked(chunks)


def run_openai(
    emulator: Any, req: ChatCompletionRequest, model: str = "emulator-chat", **headers: str
) -> tuple[OpenAIChatStream, list[dict[str, Any]]]:
    body = openai_chat_body(req, upstream_model=model)
    translator = OpenAIChatStream(
        completion_id="chatcmpl-t", created=1, model="m", tools_sent=bool(req.tools)
    )
    chunks: list[dict[str, Any]] = []
    with httpx.stream(
        "POST", f"{emulator.base_url}/v1/chat/completions", json=body, headers=headers, timeout=10
    ) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data: "):
                chunks.extend(translator.feed(line.removeprefix("data: ").encode()))
    return translator, checked(chunks)


def checked(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for chunk in chunks:
        msgspec.convert(chunk, ChatCompletionChunk)
    return chunks


def feed_lines(translator: OllamaChatStream, response: httpx.Response) -> None:
    for line in response.iter_lines():
        translator.feed(line.encode())


RUNNERS = {"ollama": run_ollama, "openai": run_openai}


@pytest.mark.parametrize("api", RUNNERS)
def test_a_plain_answer(emulator, api):
    messages = [{"role": "user", "content": "what is the capital of France"}]
    translator, chunks = RUNNERS[api](emulator, request(messages=messages))
    assert translator.content == "".join(expected_reply(messages))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert translator.completion_tokens == len(expected_reply(messages))
    assert translator.prompt_tokens == 6


def test_the_ollama_body_is_what_the_upstream_received(emulator):
    run_ollama(emulator, request(messages=[{"role": "user", "content": "hi"}], temperature=0.1))
    assert emulator.stats.last_body("/api/chat") == {
        "model": "emulator-chat",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "options": {"temperature": 0.1, "num_ctx": 2048},
        "keep_alive": "1m",
    }


@pytest.mark.parametrize("api", RUNNERS)
def test_images_arrive_as_images(emulator, api):
    parts = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXELS}"}},
    ]
    translator, _ = RUNNERS[api](emulator, request(messages=[{"role": "user", "content": parts}]))
    assert translator.content == "You said: what is this (1 image)"
    assert emulator.stats.images_seen == 1
    if api == "ollama":
        sent = emulator.stats.last_body("/api/chat")["messages"][0]
        assert sent == {"role": "user", "content": "what is this", "images": [PIXELS]}


@pytest.mark.parametrize("api", RUNNERS)
def test_a_tool_call_round_trip(emulator, api):
    ask = [{"role": "user", "content": "call get_weather Oslo"}]
    translator, chunks = RUNNERS[api](emulator, request(messages=ask, tools=[WEATHER]))
    (call,) = translator.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert call["id"].startswith("call_")
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    # The client sends the call and its answer back; the model must see which tool answered.
    follow_up = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "snow"},
    ]
    translator, _ = RUNNERS[api](emulator, request(messages=follow_up, tools=[WEATHER]))
    assert translator.content == "Tool get_weather said: snow"


@pytest.mark.parametrize("api", RUNNERS)
def test_thinking_is_kept_apart(emulator, api):
    messages = [{"role": "user", "content": "two words"}]
    translator, chunks = RUNNERS[api](
        emulator, request(messages=messages, reasoning_effort="high"), model="emulator-think"
    )
    # Not a gpt-oss model: Ollama gets think=true, which reads as the default level.
    level = "default" if api == "ollama" else "high"
    assert translator.reasoning == "".join(expected_thinking(messages, level))
    assert translator.content == "You said: two words"
    assert any("reasoning_content" in c["choices"][0]["delta"] for c in chunks)


@pytest.mark.parametrize("api", RUNNERS)
def test_json_schema_format(emulator, api):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    messages = [{"role": "user", "content": "a b c"}]
    translator, _ = RUNNERS[api](
        emulator, request(messages=messages, response_format=response_format)
    )
    assert json.loads(translator.content) == {"n": 3}


# Hostile upstream output, through the translators.


@pytest.mark.parametrize("api", RUNNERS)
def test_unknown_fields_never_reach_the_chunks(emulator, api):
    messages = [{"role": "user", "content": "hello there"}]
    translator, chunks = RUNNERS[api](
        emulator, request(messages=messages), **{"x-emulator-fault": "unknown_fields=true"}
    )
    assert "evil" not in json.dumps(chunks)
    assert translator.content == "You said: hello there"


@pytest.mark.parametrize("api", RUNNERS)
@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("huge_chunk_after=1", "upstream_chunk_too_large"),
        ("error_after=1", "upstream_error"),
        ("bad_json_after=1", "upstream_bad_stream"),
    ],
)
def test_hostile_streams_end_in_an_upstream_stream_error(emulator, api, fault, code):
    messages = [{"role": "user", "content": "hello there friend"}]
    with pytest.raises(UpstreamStreamError) as caught:
        RUNNERS[api](emulator, request(messages=messages), **{"x-emulator-fault": fault})
    assert caught.value.code == code


def test_an_endless_stream_is_stopped_by_the_size_cap(emulator):
    body = ollama_chat_body(
        request(messages=[{"role": "user", "content": "go"}]),
        upstream_model="emulator-chat",
        num_ctx=None,
        keep_alive=None,
    )
    translator = OllamaChatStream(
        completion_id="c", created=1, model="m", tools_sent=False, max_response_bytes=64 * 1024
    )
    with (
        httpx.stream(
            "POST",
            f"{emulator.base_url}/api/chat",
            json=body,
            headers={"x-emulator-fault": "endless=true, token_delay=0"},
            timeout=10,
        ) as response,
        pytest.raises(UpstreamStreamError) as caught,
    ):
        feed_lines(translator, response)
    assert caught.value.code == "upstream_response_too_large"
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)
