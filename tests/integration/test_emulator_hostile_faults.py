"""The hostile-upstream faults (SECURITY-MATRIX row 24) and every break fault, on both APIs,
observed over raw HTTP the way a gateway reads them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from local.emulator import (
    HUGE_CHUNK_BYTES,
    UNKNOWN_FIELD,
    EmulatorConfig,
    expected_reply,
    running_emulator,
)
from local.emulator.delivery import INJECTED_ERROR

MESSAGES = [{"role": "user", "content": "count one two three four"}]
REPLY = expected_reply(MESSAGES)  # 6 tokens
APIS: dict[str, tuple[str, dict[str, Any]]] = {
    "ollama": ("/api/chat", {"model": "emulator-chat", "messages": MESSAGES}),
    "openai": (
        "/v1/chat/completions",
        {"model": "emulator-chat", "messages": MESSAGES, "stream": True},
    ),
}
DONE = "data: [DONE]"


@pytest.fixture
def http(emulator):
    with httpx.Client(base_url=emulator.base_url, timeout=httpx.Timeout(5.0)) as client:
        yield client


def collect(response: httpx.Response, into: list[str], limit: int | None = None) -> None:
    for line in response.iter_lines():
        if line:
            into.append(line)
            if limit is not None and len(into) >= limit:
                return


def stream(
    http, api: str, headers: dict[str, str] | None = None, limit: int | None = None
) -> list[str]:
    path, body = APIS[api]
    lines: list[str] = []
    with http.stream("POST", path, json=body, headers=headers) as response:
        assert response.status_code == 200
        collect(response, lines, limit)
    return lines


def parsed(api: str, line: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(line if api == "ollama" else line.removeprefix("data: "))
    return payload


def content_of(api: str, payload: dict[str, Any]) -> str | None:
    if api == "ollama":
        return payload["message"]["content"] if not payload["done"] else None
    choices = payload["choices"]
    return (
        choices[0]["delta"].get("content") if choices and not choices[0]["finish_reason"] else None
    )


def ended_cleanly(api: str, lines: list[str]) -> bool:
    return parsed(api, lines[-1])["done"] is True if api == "ollama" else lines[-1] == DONE


# huge_chunk_after


@pytest.mark.parametrize("api", APIS)
def test_huge_chunk_after_k_adds_one_oversized_content_line(http, emulator, api):
    lines = stream(http, api, {"x-emulator-fault": "huge_chunk_after=2"})
    sizes = [len(line.encode()) for line in lines]
    huge = [index for index, size in enumerate(sizes) if size > 1 << 20]
    assert huge == [2]
    assert sizes[2] > HUGE_CHUNK_BYTES
    assert content_of(api, parsed(api, lines[2])) == "x" * HUGE_CHUNK_BYTES
    # The rest of the stream is untouched and ends as usual.
    rest = [content_of(api, parsed(api, line)) for line in lines[:2] + lines[3:] if line != DONE]
    assert [text for text in rest if text is not None] == REPLY
    assert ended_cleanly(api, lines)
    assert emulator.stats.streams_completed == 1


def test_huge_chunk_after_the_last_token_comes_before_the_end(http):
    lines = stream(http, "ollama", {"x-emulator-fault": f"huge_chunk_after={len(REPLY)}"})
    assert len(lines[len(REPLY)]) > HUGE_CHUNK_BYTES
    assert parsed("ollama", lines[-1])["done"] is True


# unknown_fields


@pytest.mark.parametrize("api", APIS)
def test_unknown_fields_ride_on_every_chunk(http, api):
    lines = stream(http, api, {"x-emulator-fault": "unknown_fields=true"})
    payloads = [parsed(api, line) for line in lines if line != DONE]
    assert len(payloads) == len(REPLY) + 1
    for payload in payloads:
        assert UNKNOWN_FIELD in payload
        if api == "ollama":
            assert UNKNOWN_FIELD in payload["message"]
        else:
            for choice in payload["choices"]:
                assert UNKNOWN_FIELD in choice
                assert UNKNOWN_FIELD in choice["delta"]
    # The known fields still say the same thing.
    texts = [content_of(api, payload) for payload in payloads]
    assert [text for text in texts if text] == REPLY


@pytest.mark.parametrize("api", APIS)
def test_unknown_fields_on_a_non_streamed_answer(http, emulator, api):
    emulator.set_faults(unknown_fields=True)
    path, body = APIS[api]
    payload = http.post(path, json={**body, "stream": False}).json()
    assert UNKNOWN_FIELD in payload
    message = payload["message"] if api == "ollama" else payload["choices"][0]["message"]
    assert UNKNOWN_FIELD in message
    assert message["content"] == "".join(REPLY)


# endless


@pytest.mark.parametrize("api", APIS)
def test_an_endless_stream_goes_on_until_the_client_leaves(http, emulator, api):
    lines = stream(http, api, {"x-emulator-fault": "endless=1"}, limit=len(REPLY) + 40)
    payloads = [parsed(api, line) for line in lines]
    texts = [content_of(api, payload) for payload in payloads]
    assert texts[: len(REPLY)] == REPLY
    assert set(texts[len(REPLY) :]) == {" more"}
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)
    assert emulator.stats.streams_completed == 0


@pytest.mark.parametrize("api", APIS)
def test_an_endless_stream_is_capped(api):
    config = EmulatorConfig(stall_max_seconds=0.3)
    with (
        running_emulator(config) as emulator,
        httpx.Client(base_url=emulator.base_url, timeout=5) as client,
    ):
        emulator.set_faults(endless=True)
        lines: list[str] = []
        started = time.monotonic()
        with pytest.raises(httpx.RemoteProtocolError):
            lines.extend(stream(client, api))
        assert 0.25 < time.monotonic() - started < 3
        assert emulator.stats.streams_faulted == 1


def test_an_endless_non_streamed_answer_never_arrives():
    with (
        running_emulator(EmulatorConfig(stall_max_seconds=0.3)) as emulator,
        httpx.Client(base_url=emulator.base_url, timeout=5) as client,
    ):
        emulator.set_faults(endless=True)
        path, body = APIS["ollama"]
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(path, json={**body, "stream": False})


# Every break fault, on both APIs.


@pytest.mark.parametrize("api", APIS)
def test_reset_after_on_both_apis(http, emulator, api):
    lines: list[str] = []
    path, body = APIS[api]
    fault = {"x-emulator-fault": "reset_after=2"}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", path, json=body, headers=fault) as response,
    ):
        collect(response, lines)
    assert len(lines) == 2
    assert emulator.stats.wait_for(lambda s: s.streams_faulted == 1, timeout=2)


@pytest.mark.parametrize("api", APIS)
def test_error_after_on_both_apis(http, api):
    lines = stream(http, api, {"x-emulator-fault": "error_after=2"})
    assert len(lines) == 3
    error = parsed(api, lines[2])["error"]
    assert (error if api == "ollama" else error["message"]) == INJECTED_ERROR


@pytest.mark.parametrize("api", APIS)
def test_bad_json_after_on_both_apis(http, api):
    lines = stream(http, api, {"x-emulator-fault": "bad_json_after=2"})
    assert len(lines) == 3
    with pytest.raises(json.JSONDecodeError):
        parsed(api, lines[2])


@pytest.mark.parametrize("api", APIS)
def test_stall_after_on_both_apis(emulator, api):
    lines: list[str] = []
    path, body = APIS[api]
    timeout = httpx.Timeout(5.0, read=0.3)
    fault = {"x-emulator-fault": "stall_after=2"}
    with (
        httpx.Client(base_url=emulator.base_url, timeout=timeout) as client,
        pytest.raises(httpx.ReadTimeout),
        client.stream("POST", path, json=body, headers=fault) as response,
    ):
        collect(response, lines)
    assert len(lines) == 2
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


@pytest.mark.parametrize("api", APIS)
def test_fail_status_on_both_apis(http, api):
    path, body = APIS[api]
    response = http.post(path, json=body, headers={"x-emulator-fault": "fail_status=502"})
    assert response.status_code == 502
    assert "error" in response.json()


# What the gateway's tests read from the stats.


@pytest.mark.parametrize("api", APIS)
def test_the_host_header_of_a_model_call_is_recorded(http, emulator, api):
    path, body = APIS[api]
    http.post(path, json={**body, "stream": False}, headers={"host": "gpu.internal:11434"})
    record = emulator.stats.last_request
    assert record is not None
    assert (record.method, record.path, record.host) == ("POST", path, "gpu.internal:11434")


def test_images_seen_is_in_the_snapshot_and_reset_clears_it(http, emulator):
    body = {
        "model": "emulator-chat",
        "messages": [{"role": "user", "content": "x", "images": ["aGVsbG8="]}],
        "stream": False,
    }
    http.post("/api/chat", json=body)
    assert http.get("/_emulator/stats").json()["images_seen"] == 1
    http.post("/_emulator/reset")
    assert emulator.stats.images_seen == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/chat", {"role": "user", "content": "x", "images": ["not base64!"]}),
        ("/api/chat", {"role": "user", "content": "x", "images": "aGVsbG8="}),
        (
            "/v1/chat/completions",
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "https://a/b.png"}}],
            },
        ),
        (
            "/v1/chat/completions",
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lG"}}
                ],
            },
        ),
    ],
)
def test_bad_images_are_a_400(http, emulator, path, message):
    response = http.post(path, json={"model": "emulator-chat", "messages": [message]})
    assert response.status_code == 400
    assert emulator.stats.images_seen == 0


@pytest.mark.parametrize(
    ("path", "extra", "error"),
    [
        ("/api/chat", {"think": "max"}, 'invalid think value: "max"'),
        ("/api/chat", {"format": "yaml"}, 'invalid format: "yaml"'),
        ("/v1/chat/completions", {"reasoning_effort": "max"}, "invalid reasoning value: 'max'"),
    ],
)
def test_bad_thinking_and_format_values_are_a_400(http, path, extra, error):
    body = {"model": "emulator-think", "messages": MESSAGES, "stream": False, **extra}
    response = http.post(path, json=body)
    assert response.status_code == 400
    detail = response.json()["error"]
    assert error in (detail if isinstance(detail, str) else detail["message"])
