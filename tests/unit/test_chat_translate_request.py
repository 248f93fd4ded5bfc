"""OpenAI requests translated for the upstream: one row per line of API-CONTRACT.md §3 (the
request half), then what the contract leaves to us (thinking, roles, config injection) and the
body for OpenAI-compatible upstreams.

The response half of §3 (chunks, finish reasons, usage) is in test_chat_translate_*_stream.py;
its last two rows (an upstream 404 or 5xx before the stream) are status mapping in
stratus.modelhost, not translation.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from functions.chat.schemas.openai import ChatCompletionRequest
from functions.chat.translate import ollama_chat_body, openai_chat_body
from stratus.errors import BadRequestError

USER = {"role": "user", "content": "hello"}
PIXELS = base64.b64encode(b"\x89PNG fake pixels").decode()


def request(**fields: Any) -> ChatCompletionRequest:
    body = {"model": "m", "messages": [USER], **fields}
    return msgspec.json.decode(msgspec.json.encode(body), type=ChatCompletionRequest)


def ollama(upstream_model: str = "llama3.2:3b", **fields: Any) -> dict[str, Any]:
    return ollama_chat_body(
        request(**fields), upstream_model=upstream_model, num_ctx=None, keep_alive=None
    )


# §3 rows, request half: (name, client fields, the Ollama body fields they must produce)
ROWS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("max_tokens -> num_predict", {"max_tokens": 5}, {"options": {"num_predict": 5}}),
    (
        "max_completion_tokens -> num_predict",
        {"max_completion_tokens": 6},
        {"options": {"num_predict": 6}},
    ),
    (
        "max_completion_tokens wins over the deprecated max_tokens",
        {"max_tokens": 5, "max_completion_tokens": 6},
        {"options": {"num_predict": 6}},
    ),
    (
        "sampling options keep their names",
        {
            "temperature": 0.2,
            "top_p": 0.9,
            "seed": 42,
            "frequency_penalty": 0.5,
            "presence_penalty": -0.5,
        },
        {
            "options": {
                "temperature": 0.2,
                "top_p": 0.9,
                "seed": 42,
                "frequency_penalty": 0.5,
                "presence_penalty": -0.5,
            }
        },
    ),
    ("a zero is a value, not an absence", {"temperature": 0}, {"options": {"temperature": 0.0}}),
    ("stop as a string becomes a list", {"stop": "END"}, {"options": {"stop": ["END"]}}),
    ("stop as a list stays a list", {"stop": ["a", "b"]}, {"options": {"stop": ["a", "b"]}}),
    ("nothing set: no options at all", {}, {}),
    (
        "response_format json_object -> format json",
        {"response_format": {"type": "json_object"}},
        {"format": "json"},
    ),
    (
        "response_format json_schema -> format schema",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "object", "required": ["a"]}},
            }
        },
        {"format": {"type": "object", "required": ["a"]}},
    ),
    (
        "json_schema without a schema still asks for JSON",
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
        {"format": "json"},
    ),
    ("response_format text: no format", {"response_format": {"type": "text"}}, {}),
    (
        "image parts: text joined, base64 into images",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look at"},
                        {
                            "type": "image_url",
                            "image_url": {"url": f"data:image/png;base64,{PIXELS}"},
                        },
                        {"type": "text", "text": "this"},
                        {"type": "image_url", "image_url": {"url": f"data:;base64,{PIXELS}"}},
                    ],
                }
            ]
        },
        {"messages": [{"role": "user", "content": "look at\nthis", "images": [PIXELS, PIXELS]}]},
    ),
    (
        "tools pass through",
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "weather",
                        "description": "Weather in a city",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                }
            ]
        },
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "weather",
                        "description": "Weather in a city",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                }
            ]
        },
    ),
    (
        "assistant tool_calls: arguments as an object; tool_call_id -> tool_name",
        {
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        },
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "time", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
                {
                    "role": "tool",
                    "tool_call_id": "call_a",
                    "content": [{"type": "text", "text": "rain"}],
                },
            ]
        },
        {
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"function": {"name": "weather", "arguments": {"city": "Oslo"}}},
                        {"function": {"name": "time", "arguments": {}}},
                    ],
                },
                {"role": "tool", "content": "noon", "tool_name": "time"},
                {"role": "tool", "content": "rain", "tool_name": "weather"},
            ]
        },
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [row[1:] for row in ROWS], ids=[r[0] for r in ROWS]
)
def test_contract_rows(fields, expected):
    body = ollama(**fields)
    base = {"model": "llama3.2:3b", "messages": [USER], "stream": True}
    assert body == base | expected


def test_penalties_are_never_mapped_to_repeat_penalty():
    options = ollama(frequency_penalty=1.0, presence_penalty=1.0)["options"]
    assert "repeat_penalty" not in options
    assert options == {"frequency_penalty": 1.0, "presence_penalty": 1.0}


def test_more_than_one_choice_is_refused_before_translation():
    with pytest.raises(BadRequestError) as caught:
        request(n=2)
    assert caught.value.param == "n"


@pytest.mark.parametrize(
    "arguments",
    ["{not json", "[1, 2]", '"a string"', "42", '{"a": ' + "[" * 5000 + "]" * 5000 + "}"],
)
def test_tool_call_arguments_must_be_a_json_object(arguments):
    messages = [
        USER,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
            ],
        },
    ]
    with pytest.raises(BadRequestError) as caught:
        ollama(messages=messages)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"
    assert "must be a JSON object encoded as a string" in caught.value.message


def test_a_tool_message_must_answer_an_earlier_call():
    messages = [
        USER,
        # The answer comes before the call: it answers nothing.
        {"role": "tool", "tool_call_id": "call_a", "content": "rain"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
    ]
    with pytest.raises(BadRequestError) as caught:
        ollama(messages=messages)
    assert caught.value.param == "messages[1].tool_call_id"


# What the contract leaves to us.


def test_stream_is_always_explicit():
    assert ollama()["stream"] is True
    body = ollama_chat_body(
        request(), upstream_model="m", num_ctx=None, keep_alive=None, stream=False
    )
    assert body["stream"] is False


def test_configured_num_ctx_and_keep_alive_are_injected():
    body = ollama_chat_body(
        request(temperature=1), upstream_model="m", num_ctx=16384, keep_alive="10m"
    )
    assert body["options"] == {"temperature": 1.0, "num_ctx": 16384}
    assert body["keep_alive"] == "10m"


@pytest.mark.parametrize(("configured", "sent"), [("300", 300), ("-1", -1), (0, 0), ("1h", "1h")])
def test_bare_seconds_keep_alive_goes_as_a_number(configured, sent):
    body = ollama_chat_body(request(), upstream_model="m", num_ctx=None, keep_alive=configured)
    assert body["keep_alive"] == sent


def test_a_client_keep_alive_is_ignored():
    # Pinning a model on a shared GPU is the operator's call, not a client's.
    assert "keep_alive" not in ollama(keep_alive=-1)


def test_upstream_model_replaces_the_client_name():
    assert ollama(upstream_model="qwen3:8b")["model"] == "qwen3:8b"


def test_developer_becomes_system_and_extra_fields_are_dropped():
    messages = [
        {"role": "developer", "content": "rules"},
        {"role": "system", "content": [{"type": "text", "text": "more"}], "name": "ops"},
        {"role": "user", "content": "hi", "name": "ann"},
    ]
    assert ollama(messages=messages)["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "system", "content": "more"},
        {"role": "user", "content": "hi"},
    ]


def test_tool_choice_none_offers_no_tools():
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert "tools" not in ollama(tools=tools, tool_choice="none")
    assert ollama(tools=tools, tool_choice="required")["tools"] == tools


# thinking: (client fields, upstream model, Ollama think)
THINK = [
    ({}, "qwen3:8b", None),
    ({"think": True}, "qwen3:8b", True),
    ({"think": False}, "gpt-oss:20b", False),
    ({"think": "high"}, "qwen3:8b", "high"),  # explicit: passed as given
    ({"reasoning_effort": "high"}, "qwen3:8b", True),
    ({"reasoning_effort": "low"}, "deepseek-r1:8b", True),
    ({"reasoning_effort": "none"}, "qwen3:8b", False),
    ({"reasoning_effort": "high"}, "gpt-oss:20b", "high"),
    ({"reasoning_effort": "medium"}, "library/gpt-oss:120b", "medium"),
    ({"reasoning_effort": "minimal"}, "gpt-oss:20b", "low"),
    ({"reasoning_effort": "none"}, "gpt-oss:20b", False),
    ({"reasoning_effort": "high", "think": False}, "qwen3:8b", False),
]


@pytest.mark.parametrize(("fields", "model", "think"), THINK)
def test_reasoning_effort_and_think(fields, model, think):
    body = ollama(upstream_model=model, **fields)
    assert body.get("think", "absent") == ("absent" if think is None else think)


def test_nothing_in_the_body_comes_from_extension_or_ignored_fields():
    body = ollama(
        chat_id="c",
        id="m",
        parent_id="p",
        user_message_id="u",
        files=[{"type": "file", "id": "f"}],
        user="ann",
        metadata={"a": 1},
        logprobs=True,
        session_id="s",
        parallel_tool_calls=True,
    )
    assert body == {"model": "llama3.2:3b", "messages": [USER], "stream": True}


# OpenAI-compatible upstreams.


def test_openai_body_keeps_known_fields_and_always_streams_with_usage():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = openai_chat_body(
        request(
            messages=[{"role": "developer", "content": "rules"}, USER],
            max_tokens=5,
            temperature=0.3,
            stop="END",
            tools=tools,
            tool_choice="auto",
            parallel_tool_calls=False,
            response_format={"type": "json_object"},
            reasoning_effort="low",
            stream=False,
            chat_id="c",
            id="m",
            files=[{"type": "collection", "id": "k"}],
            think=True,
            metadata={"x": 1},
            user="ann",
            n=1,
        ),
        upstream_model="gpt-4o-mini",
    )
    assert body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "rules"}, USER],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 5,
        "temperature": 0.3,
        "stop": "END",
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "reasoning_effort": "low",
    }


def test_openai_body_keeps_tool_turns_and_images_as_openai_shapes():
    url = f"data:image/png;base64,{PIXELS}"
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "done"},
    ]
    body = openai_chat_body(request(messages=messages), upstream_model="x")
    assert body["messages"] == messages
