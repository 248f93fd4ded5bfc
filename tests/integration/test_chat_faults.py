"""Upstream failures through the gateway (rows 11, 24, 25): the emulator's fault modes."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator.content import expected_reply
from tests.support.auth import apply_env
from tests.support.chat import ChatStack, chat_body, content_of, sse_events

pytestmark = pytest.mark.anyio

TEXT = "one two three four five six seven eight"


def tokens() -> list[str]:
    return expected_reply([{"role": "user", "content": TEXT}])


def fault(stack: ChatStack, setting: str) -> None:
    """The emulator's faults are set on the emulator: the gateway never forwards client
    headers upstream."""
    name, _, value = setting.partition("=")
    stack.emulator.set_faults(**{name: value})


async def saved_turn(stack: ChatStack, setting: str) -> tuple[list[Any], list[dict[str, Any]]]:
    fault(stack, setting)
    user = stack.user
    chat_id = await stack.new_chat(user)
    response = await stack.http.post(
        "/v1/chat/completions",
        json=chat_body(TEXT, chat_id=chat_id, stream=True),
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    return sse_events(response.text), await stack.chat_messages(user, chat_id)


async def test_a_reset_mid_stream_is_an_error_event_and_the_partial_is_saved(
    chat_stack: ChatStack,
):
    # Tokens apart in time, as a real model sends them: the reset comes after three arrived.
    chat_stack.emulator.set_faults(token_delay=0.05)
    events, messages = await saved_turn(chat_stack, "reset_after=3")
    assert "[DONE]" not in events
    error = events[-1]["error"]
    assert error["type"] == "upstream_error"
    assert "closed the connection" in error["message"]
    partial = content_of(events)
    assert partial == "".join(tokens()[:3])
    question, answer = messages
    assert question["content"] == TEXT
    assert question["status"] == "complete"
    assert answer["status"] == "error"
    assert answer["content"] == partial
    assert answer["error"]["content"] == error["message"]


async def test_an_upstream_error_line_is_relayed_as_an_error_event(chat_stack: ChatStack):
    events, messages = await saved_turn(chat_stack, "error_after=2")
    assert "[DONE]" not in events
    assert "error" in events[-1]
    assert messages[-1]["status"] == "error"
    assert messages[-1]["content"] == "".join(tokens()[:2])


async def test_bad_json_from_upstream_ends_in_an_error_event(chat_stack: ChatStack):
    events, messages = await saved_turn(chat_stack, "bad_json_after=2")
    assert "[DONE]" not in events
    assert "error" in events[-1]
    assert messages[-1]["status"] == "error"


async def test_a_stalled_upstream_hits_the_idle_timeout(chat_stack: ChatStack):
    apply_env({"STRATUS_MODEL_READ_TIMEOUT": "0.5"})
    events, messages = await saved_turn(chat_stack, "stall_after=2")
    assert "[DONE]" not in events
    assert "timed out" in events[-1]["error"]["message"]
    assert messages[-1]["status"] == "error"
    assert messages[-1]["content"] == "".join(tokens()[:2])
    assert chat_stack.emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


async def test_a_slow_first_byte_is_a_503_before_the_stream(chat_stack: ChatStack):
    apply_env({"STRATUS_MODEL_FIRST_BYTE_TIMEOUT": "0.3"})
    fault(chat_stack, "stall_after=0")
    response = await chat_stack.complete(chat_stack.user, chat_body(TEXT, stream=True))
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == "model_host_unavailable"
    assert chat_stack.emulator.base_url not in body["message"]


async def test_an_unreachable_host_is_a_503_without_its_url(chat_stack: ChatStack):
    # The catalog already knows the model; the host then goes away.
    assert (await chat_stack.complete(chat_stack.user, chat_body("warm"))).status_code == 200
    chat_stack.emulator.set_faults(fail_status=503)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    response = await chat_stack.complete(user, chat_body(TEXT, chat_id=chat_id))
    assert response.status_code == 503
    assert "127.0.0.1" not in response.text
    question, answer = await chat_stack.chat_messages(user, chat_id)
    # The user's message is kept; the answer says what went wrong.
    assert question["content"] == TEXT
    assert answer["status"] == "error"


async def test_a_non_streamed_answer_that_breaks_is_a_502(chat_stack: ChatStack):
    fault(chat_stack, "error_after=2")
    response = await chat_stack.complete(chat_stack.user, chat_body(TEXT))
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"


async def test_an_answer_over_the_size_cap_is_cut_with_an_error(chat_stack: ChatStack):
    apply_env({"STRATUS_UPSTREAM_MAX_RESPONSE_BYTES": "2048"})
    chat_stack.emulator.set_faults(token_delay=0.01)
    long_text = " ".join(f"w{i}" for i in range(200))
    response = await chat_stack.complete(chat_stack.user, chat_body(long_text, stream=True))
    events = sse_events(response.text)
    assert "[DONE]" not in events
    assert "size limit" in events[-1]["error"]["message"]
    assert chat_stack.emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


async def test_a_generation_over_the_time_cap_is_interrupted(chat_stack: ChatStack):
    apply_env({"STRATUS_CHAT_MAX_SECONDS": "1"})
    chat_stack.emulator.set_faults(token_delay=0.05)
    long_text = " ".join(f"w{i}" for i in range(60))
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    response = await chat_stack.complete(user, chat_body(long_text, chat_id=chat_id, stream=True))
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert (await chat_stack.chat_messages(user, chat_id))[-1]["status"] == "interrupted"


@pytest.mark.parametrize("setting", ["error_after=2", "bad_json_after=2"])
async def test_the_client_gets_every_token_the_saved_answer_has(chat_stack: ChatStack, setting):
    # No token delay: the good lines and the bad one arrive in one read.
    events, messages = await saved_turn(chat_stack, setting)
    assert "error" in events[-1]
    assert content_of(events) == messages[-1]["content"] == "".join(tokens()[:2])
