"""Ollama NDJSON in, OpenAI chunks out: API-CONTRACT.md §3 (the response half) and §1's chunk
rules, plus the hostile-upstream cases of SECURITY-MATRIX row 24.

Every chunk and completion is also converted into the documented response Structs (which
refuse unknown fields), so the dicts cannot drift from the contract.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from functions.chat.schemas.completion import ChatCompletion, ChatCompletionChunk
from functions.chat.translate import (
    OllamaChatStream,
    UpstreamStreamError,
    completion_object,
    error_payload_for,
    usage_chunk,
)
from stratus.errors import UpstreamError

ID, CREATED, MODEL = "chatcmpl-task-1", 1_760_000_000, "llama3.2:3b"


def stream(**options: Any) -> OllamaChatStream:
    settings: dict[str, Any] = {
        "completion_id": ID,
        "created": CREATED,
        "model": MODEL,
        "tools_sent": False,
    }
    return OllamaChatStream(**(settings | options))


def line(content: str = "", *, done: bool = False, **extra: Any) -> bytes:
    message = {"role": "assistant", "content": content} | extra.pop("message", {})
    payload = {
        "model": "upstream-name:latest",
        "created_at": "2025-01-01T00:00:00.000000Z",
        "message": message,
        "done": done,
    } | extra
    return json.dumps(payload).encode()


def final(**extra: Any) -> bytes:
    fields: dict[str, Any] = {"done_reason": "stop", "prompt_eval_count": 7, "eval_count": 3}
    fields |= extra
    return line(done=True, **fields)


def feed_all(translator: OllamaChatStream, lines: list[bytes]) -> list[dict[str, Any]]:
    chunks = [chunk for item in lines for chunk in translator.feed(item)]
    for chunk in chunks:
        msgspec.convert(chunk, ChatCompletionChunk)
    return chunks


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks]


def reasons(chunks: list[dict[str, Any]]) -> list[str | None]:
    return [chunk["choices"][0]["finish_reason"] for chunk in chunks]


# §3: each NDJSON line -> one chunk, same id/created, delta.content; §1: role only first.


def test_each_line_is_one_chunk_with_a_stable_id_and_role_only_first():
    translator = stream()
    chunks = feed_all(translator, [line("Hel"), line("lo"), line("!"), final()])
    assert deltas(chunks) == [
        {"role": "assistant", "content": "Hel"},
        {"content": "lo"},
        {"content": "!"},
        {},
    ]
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        (ID, CREATED, MODEL, "chat.completion.chunk")
    }
    assert all("usage" not in chunk for chunk in chunks)
    assert translator.content == "Hello!"


def test_the_upstream_model_name_never_shows():
    chunks = feed_all(stream(), [line("x"), final()])
    assert "upstream-name" not in json.dumps(chunks)


# §3: done_reason -> finish_reason


@pytest.mark.parametrize(
    ("done_reason", "finish_reason"),
    [("stop", "stop"), ("length", "length"), (None, "stop"), ("load", "stop"), ("evil", "stop")],
)
def test_done_reason_maps_to_finish_reason(done_reason, finish_reason):
    translator = stream()
    chunks = feed_all(translator, [line("a"), final(done_reason=done_reason)])
    assert reasons(chunks) == [None, finish_reason]
    assert translator.finish_reason == finish_reason
    assert translator.done is True


# §3: prompt_eval_count / eval_count -> usage


def test_counts_become_usage():
    translator = stream()
    feed_all(translator, [line("a"), final(prompt_eval_count=11, eval_count=4)])
    assert translator.usage() == {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}


def test_an_absent_prompt_eval_count_is_zero():
    translator = stream()
    done = json.dumps({"message": {"content": ""}, "done": True, "eval_count": 2}).encode()
    feed_all(translator, [line("a"), done])
    assert translator.usage() == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}


# §1: stream_options.include_usage


def test_include_usage_puts_usage_null_on_every_chunk_and_a_usage_chunk_last():
    translator = stream(include_usage=True)
    chunks = feed_all(translator, [line("a"), line("b"), final()])
    assert all(chunk["usage"] is None for chunk in chunks)
    last = usage_chunk(translator)
    msgspec.convert(last, ChatCompletionChunk)
    assert last == {
        "id": ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


# Lines that carry nothing.


def test_an_empty_first_line_still_opens_the_stream_with_the_role():
    chunks = feed_all(stream(), [line(""), line(""), line("a"), final()])
    assert deltas(chunks) == [{"role": "assistant", "content": ""}, {"content": "a"}, {}]


def test_blank_lines_are_skipped():
    chunks = feed_all(stream(), [line("a"), b"", b"  \r", line("b"), final()])
    assert deltas(chunks) == [{"role": "assistant", "content": "a"}, {"content": "b"}, {}]


def test_a_whole_answer_in_the_done_line_is_one_chunk():
    # What a non-streamed /api/chat answer looks like.
    translator = stream()
    chunks = feed_all(translator, [final(message={"content": "all of it"})])
    assert deltas(chunks) == [{"role": "assistant", "content": "all of it"}]
    assert reasons(chunks) == ["stop"]


def test_lines_after_done_are_ignored():
    translator = stream()
    feed_all(translator, [line("a"), final()])
    assert translator.feed(line("late")) == []
    assert translator.feed(b'{"error": "late"}') == []
    assert translator.content == "a"


# Thinking -> delta.reasoning_content, never mixed into content.


def test_thinking_is_relayed_apart_from_the_answer():
    translator = stream()
    chunks = feed_all(
        translator,
        [
            line("", message={"thinking": "Let me"}),
            line("", message={"thinking": " think."}),
            line("Four."),
            final(),
        ],
    )
    assert deltas(chunks) == [
        {"role": "assistant", "reasoning_content": "Let me"},
        {"reasoning_content": " think."},
        {"content": "Four."},
        {},
    ]
    assert translator.reasoning == "Let me think."
    assert translator.content == "Four."
    completion = completion_object(translator)
    msgspec.convert(completion, ChatCompletion)
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Four.",
        "reasoning_content": "Let me think.",
    }


# Tool calls: whole objects in a message -> OpenAI tool-call deltas.

CALLS = [
    {"function": {"name": "weather", "arguments": {"city": "Oslo", "days": 2}}},
    {"function": {"name": "time", "arguments": {}}},
]


def test_tool_calls_become_openai_deltas_with_fresh_ids():
    translator = stream(tools_sent=True)
    chunks = feed_all(
        translator,
        [
            line("", message={"tool_calls": CALLS[:1]}),
            line("", message={"tool_calls": CALLS[1:]}),
            final(),
        ],
    )
    first, second, last = deltas(chunks)
    (call_a,) = first["tool_calls"]
    (call_b,) = second["tool_calls"]
    assert first["role"] == "assistant"
    assert call_a["index"] == 0
    assert call_b["index"] == 1
    assert call_a["type"] == call_b["type"] == "function"
    assert call_a["function"]["name"] == "weather"
    assert json.loads(call_a["function"]["arguments"]) == {"city": "Oslo", "days": 2}
    assert call_b["function"] == {"name": "time", "arguments": "{}"}
    assert call_a["id"].startswith("call_")
    assert call_a["id"] != call_b["id"]
    assert last == {}
    assert reasons(chunks) == [None, None, "tool_calls"]
    assert translator.tool_calls == [
        {"id": call_a["id"], "type": "function", "function": call_a["function"]},
        {"id": call_b["id"], "type": "function", "function": call_b["function"]},
    ]


def test_ids_are_fresh_per_stream():
    ids = set()
    for _ in range(2):
        chunks = feed_all(stream(tools_sent=True), [line("", message={"tool_calls": CALLS[:1]})])
        ids.add(chunks[0]["choices"][0]["delta"]["tool_calls"][0]["id"])
    assert len(ids) == 2


def test_a_tool_call_answer_finishes_with_tool_calls_and_no_content():
    translator = stream(tools_sent=True)
    feed_all(translator, [final(message={"tool_calls": CALLS[:1]})])
    completion = completion_object(translator)
    msgspec.convert(completion, ChatCompletion)
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == translator.tool_calls


def test_tool_calls_are_dropped_when_no_tools_were_offered():
    translator = stream(tools_sent=False)
    chunks = feed_all(translator, [line("hi", message={"tool_calls": CALLS}), final()])
    assert deltas(chunks) == [{"role": "assistant", "content": "hi"}, {}]
    assert reasons(chunks)[-1] == "stop"
    assert translator.tool_calls == []


def test_string_arguments_are_kept_as_given():
    calls = [{"function": {"name": "f", "arguments": '{"a":1}'}}]
    chunks = feed_all(stream(tools_sent=True), [line("", message={"tool_calls": calls})])
    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'


# Hostile upstream output.


def test_unknown_fields_never_reach_the_client():
    hostile = json.dumps(
        {
            "model": "x",
            "evil": "<script>alert(1)</script>",
            "message": {
                "role": "system",
                "content": "ok",
                "evil": "<script>",
                "images": ["AAAA"],
                "tool_calls": None,
            },
            "done": False,
        }
    ).encode()
    chunks = feed_all(stream(), [hostile])
    assert chunks == [
        {
            "id": ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}
            ],
        }
    ]


def test_nul_is_stripped_from_relayed_text():
    translator = stream()
    chunks = feed_all(translator, [line("a\x00b", message={"thinking": "\x00t"}), final()])
    assert deltas(chunks)[0] == {"role": "assistant", "reasoning_content": "t", "content": "ab"}
    assert translator.content == "ab"


@pytest.mark.parametrize(
    "bad",
    [
        b'{"message": {"content": "cut',
        b"not json at all",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"message": {"content": 42}, "done": false}',
        b'{"message": "text", "done": false}',
        b'{"done": "yes"}',
        b'{"message": {"tool_calls": [{"function": "f"}]}}',
        b"\xff\xfe garbage",
        # Nested past what any recursive decoder follows: RecursionError, not a 500.
        b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b', "done": false}',
    ],
)
def test_bad_json_or_a_wrong_shape_is_an_upstream_stream_error(bad):
    translator = stream()
    translator.feed(line("a"))
    with pytest.raises(UpstreamStreamError) as caught:
        translator.feed(bad)
    assert caught.value.code == "upstream_bad_stream"
    assert caught.value.message == "The model host sent a malformed stream."
    assert caught.value.detail


def test_an_error_line_is_an_upstream_stream_error_without_the_upstream_text():
    translator = stream()
    translator.feed(line("a"))
    with pytest.raises(UpstreamStreamError) as caught:
        translator.feed(b'{"error": "CUDA error at /opt/ollama/llm.cpp:12 (http://10.0.0.5)"}')
    error = caught.value
    assert isinstance(error, UpstreamError)  # the mapper answers it 502 before a stream starts
    assert error.code == "upstream_error"
    assert "10.0.0.5" not in error.message
    assert "CUDA error" in (error.detail or "")
    assert error_payload_for(error) == {
        "error": {
            "message": "The model host reported an error while generating the answer.",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_error",
        }
    }


def test_a_line_over_the_cap_is_refused_before_it_is_parsed():
    translator = stream(max_line_bytes=1024)
    translator.feed(line("a"))
    huge = line("x" * 2048)
    with pytest.raises(UpstreamStreamError) as caught:
        translator.feed(huge)
    assert caught.value.code == "upstream_chunk_too_large"
    assert translator.content == "a"


def test_the_default_line_cap_is_one_mebibyte():
    translator = stream()
    translator.feed(line("x" * 1_000_000))
    with pytest.raises(UpstreamStreamError):
        translator.feed(line("x" * (1 << 20)))


def test_an_answer_over_the_total_cap_is_refused():
    translator = stream(max_response_bytes=4096)
    piece = line("word ")
    fits = 4096 // len(piece)
    for _ in range(fits):
        translator.feed(piece)
    with pytest.raises(UpstreamStreamError) as caught:
        translator.feed(piece)
    assert caught.value.code == "upstream_response_too_large"


# The gateway ending an answer itself.


def test_closing_chunk_after_a_stop():
    translator = stream(include_usage=True)
    feed_all(translator, [line("partial")])
    closing = translator.closing_chunk()
    msgspec.convert(closing, ChatCompletionChunk)
    assert closing["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert closing["usage"] is None
    assert translator.finish_reason == "stop"


def test_closing_chunk_before_anything_still_carries_the_role():
    closing = stream().closing_chunk("length")
    assert closing["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert closing["choices"][0]["finish_reason"] == "length"


def test_completion_object_for_a_plain_answer():
    translator = stream()
    feed_all(translator, [line("Hi"), line(" there"), final()])
    completion = completion_object(translator)
    msgspec.convert(completion, ChatCompletion)
    assert completion == {
        "id": ID,
        "object": "chat.completion",
        "created": CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi there"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }
    assert (
        completion_object(translator, finish_reason="length")["choices"][0]["finish_reason"]
        == "length"
    )
