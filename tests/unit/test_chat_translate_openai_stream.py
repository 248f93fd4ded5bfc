"""An OpenAI-compatible upstream's SSE payloads in, our chunks out: only known delta fields,
our id/created/model, usage captured, tool calls re-identified, hostile input refused."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from functions.chat.schemas.completion import ChatCompletion, ChatCompletionChunk
from functions.chat.translate import OpenAIChatStream, UpstreamStreamError, completion_object
from functions.chat.translate.openai_stream import MAX_TOOL_CALLS

ID, CREATED, MODEL = "chatcmpl-task-2", 1_760_000_001, "gpt-4o-mini"


def stream(**options: Any) -> OpenAIChatStream:
    settings: dict[str, Any] = {
        "completion_id": ID,
        "created": CREATED,
        "model": MODEL,
        "tools_sent": False,
    }
    return OpenAIChatStream(**(settings | options))


def event(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    payload = {
        "id": "chatcmpl-upstream-999",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "upstream-secret-model",
        "system_fingerprint": "fp_x",
        "choices": [choice],
    } | extra
    return json.dumps(payload).encode()


def usage_event(prompt: int, completion: int) -> bytes:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": 0}
    return json.dumps({"id": "x", "choices": [], "usage": usage}).encode()


def feed_all(translator: OpenAIChatStream, payloads: list[bytes]) -> list[dict[str, Any]]:
    chunks = [chunk for payload in payloads for chunk in translator.feed(payload)]
    for chunk in chunks:
        msgspec.convert(chunk, ChatCompletionChunk)
    return chunks


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks]


def test_a_plain_stream_is_relayed_with_our_identity():
    translator = stream(include_usage=True)
    chunks = feed_all(
        translator,
        [
            event({"role": "assistant", "content": ""}),
            event({"content": "Hel"}),
            event({"content": "lo"}),
            event({}, "stop"),
            usage_event(9, 2),
            b"[DONE]",
        ],
    )
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"content": "lo"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "stop"]
    assert {(c["id"], c["created"], c["model"]) for c in chunks} == {(ID, CREATED, MODEL)}
    assert all(chunk["usage"] is None for chunk in chunks)
    assert "upstream" not in json.dumps(chunks)
    assert "fp_x" not in json.dumps(chunks)
    assert translator.usage() == {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    assert translator.done is True
    assert translator.content == "Hello"


def test_role_is_ours_and_only_first():
    chunks = feed_all(
        stream(),
        [
            event({"role": "assistant", "content": "a"}),
            event({"role": "assistant", "content": "b"}),
        ],
    )
    assert deltas(chunks) == [{"role": "assistant", "content": "a"}, {"content": "b"}]


def test_unknown_fields_and_event_types_are_dropped():
    hostile = event(
        {
            "content": "ok",
            "evil": "<script>",
            "refusal": "no",
            "audio": {"data": "x"},
            "role": "system",
        },
        evil="<script>",
        logprobs={"content": []},
    )
    chunks = feed_all(stream(), [hostile, json.dumps({"type": "evil.event", "data": 1}).encode()])
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


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_is_relayed_as_reasoning_content(field):
    translator = stream()
    chunks = feed_all(
        translator, [event({field: "hmm"}), event({"content": "yes"}), event({}, "stop")]
    )
    assert deltas(chunks) == [
        {"role": "assistant", "reasoning_content": "hmm"},
        {"content": "yes"},
        {},
    ]
    assert (translator.reasoning, translator.content) == ("hmm", "yes")


def test_other_choices_are_not_relayed():
    payload = json.dumps(
        {
            "choices": [
                {"index": 1, "delta": {"content": "other"}, "finish_reason": None},
                {"index": 0, "delta": {"content": "mine"}, "finish_reason": None},
            ]
        }
    ).encode()
    assert deltas(feed_all(stream(), [payload])) == [{"role": "assistant", "content": "mine"}]


@pytest.mark.parametrize(
    ("upstream", "ours"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        ("eos", "stop"),
    ],
)
def test_finish_reasons(upstream, ours):
    translator = stream()
    chunks = feed_all(translator, [event({"content": "a"}), event({}, upstream), event({}, "stop")])
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, ours]
    assert translator.finish_reason == ours


def tool_delta(index: int, **function: str) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": function}
    if "name" in function:
        call |= {"id": f"upstream-{index}", "type": "function"}
    return {"tool_calls": [call]}


def test_tool_call_deltas_get_our_ids_and_accumulate():
    translator = stream(tools_sent=True)
    chunks = feed_all(
        translator,
        [
            event({"role": "assistant", "content": None}),
            event(tool_delta(3, name="weather", arguments="")),
            event(tool_delta(3, arguments='{"city"')),
            event(tool_delta(3, arguments=': "Oslo"}')),
            event(tool_delta(7, name="time", arguments="{}")),
            event({}, "stop"),
        ],
    )
    first, start_a, more_a, end_a, start_b, last = deltas(chunks)
    assert first == {"role": "assistant", "content": ""}
    (call_a,) = start_a["tool_calls"]
    assert call_a["index"] == 0
    assert call_a["id"].startswith("call_")
    assert call_a["type"] == "function"
    assert call_a["function"] == {"name": "weather", "arguments": ""}
    assert more_a == {"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}
    assert end_a == {"tool_calls": [{"index": 0, "function": {"arguments": ': "Oslo"}'}}]}
    (call_b,) = start_b["tool_calls"]
    assert call_b["index"] == 1
    assert call_b["id"] != call_a["id"]
    assert "upstream-" not in json.dumps(chunks)
    # A stop after tool calls is a tool_calls finish.
    assert last == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert translator.tool_calls == [
        {
            "id": call_a["id"],
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
        },
        {"id": call_b["id"], "type": "function", "function": {"name": "time", "arguments": "{}"}},
    ]
    completion = completion_object(translator)
    msgspec.convert(completion, ChatCompletion)
    assert completion["choices"][0]["message"]["tool_calls"] == translator.tool_calls
    assert completion["choices"][0]["message"]["content"] is None


def test_tool_calls_are_dropped_when_no_tools_were_offered():
    translator = stream(tools_sent=False)
    chunks = feed_all(
        translator, [event(tool_delta(0, name="f", arguments="{}")), event({}, "stop")]
    )
    assert deltas(chunks) == [{"role": "assistant", "content": ""}, {}]
    assert translator.tool_calls == []
    assert translator.finish_reason == "stop"


def test_too_many_tool_calls_is_refused():
    translator = stream(tools_sent=True)
    for index in range(MAX_TOOL_CALLS):
        translator.feed(event(tool_delta(index, name="f", arguments="{}")))
    with pytest.raises(UpstreamStreamError):
        translator.feed(event(tool_delta(MAX_TOOL_CALLS, name="f", arguments="{}")))


def test_an_error_event_is_an_upstream_stream_error():
    translator = stream()
    translator.feed(event({"content": "a"}))
    error = {"error": {"message": "upstream quota at https://internal.example", "type": "x"}}
    with pytest.raises(UpstreamStreamError) as caught:
        translator.feed(json.dumps(error).encode())
    assert caught.value.code == "upstream_error"
    assert "internal.example" not in caught.value.message
    assert "quota" in (caught.value.detail or "")


@pytest.mark.parametrize(
    "bad",
    [
        b'{"choices": [{"delta": {"content": "cut',
        b"<html>502</html>",
        b'{"choices": "x"}',
        b'{"choices": [{"delta": {"content": 1}}]}',
        b'{"choices": [{"index": "0"}]}',
        b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
def test_bad_json_or_shape_is_refused(bad):
    with pytest.raises(UpstreamStreamError) as caught:
        stream().feed(bad)
    assert caught.value.code == "upstream_bad_stream"


def test_oversized_payload_is_refused():
    translator = stream(max_line_bytes=2048)
    with pytest.raises(UpstreamStreamError) as caught:
        translator.feed(event({"content": "x" * 4096}))
    assert caught.value.code == "upstream_chunk_too_large"


def test_nothing_after_done():
    translator = stream()
    feed_all(translator, [event({"content": "a"}), event({}, "stop"), b"[DONE]"])
    assert translator.feed(event({"content": "late"})) == []
    assert translator.content == "a"


def test_a_usage_only_event_sends_nothing():
    translator = stream(include_usage=True)
    assert translator.feed(usage_event(3, 4)) == []
    assert translator.usage()["total_tokens"] == 7
    assert translator.started is False
