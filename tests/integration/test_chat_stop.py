"""Stopping across instances, disconnects, checkpoints and the Lambda deadline (rows 4, 12, 13,
25, 26): a second app process, real sockets, the emulator counting abandoned streams."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.app_process import app_process
from tests.support.auth import Account
from tests.support.chat import ChatStack, chat_body, content_of, sse_events

pytestmark = pytest.mark.anyio

# Sixty words: a reply of about sixty tokens, long enough to stop in the middle.
LONG = " ".join(f"word{i}" for i in range(60))


async def open_stream(
    stack: ChatStack, account: Account, body: dict[str, Any], **kw: Any
) -> tuple[httpx.Response, AsyncIterator[str]]:
    request = stack.http.build_request(
        "POST", "/v1/chat/completions", json=body, headers={**account.headers, **kw}
    )
    response = await stack.http.send(request, stream=True)
    return response, response.aiter_lines()


async def read_events(lines: AsyncIterator[str], count: int) -> list[Any]:
    events: list[Any] = []
    async for line in lines:
        if line.startswith("data:"):
            payload = line[5:].strip()
            events.append(payload if payload == "[DONE]" else json.loads(payload))
            if len(events) >= count:
                break
    return events


async def rest_of(lines: AsyncIterator[str]) -> list[Any]:
    return await read_events(lines, 10**6)


@pytest.fixture
def second_instance(chat_stack: ChatStack, tmp_path):
    """Another app process on the same Postgres, DynamoDB and model host."""
    with app_process(tmp_path) as other:
        yield other


async def test_a_stop_through_another_process_ends_the_stream_and_saves_the_partial(
    chat_stack: ChatStack, second_instance
):
    emulator = chat_stack.emulator
    emulator.set_faults(token_delay=0.05)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    response, lines = await open_stream(
        chat_stack, user, chat_body(LONG, chat_id=chat_id, stream=True)
    )
    task_id = response.headers["x-stratus-task-id"]
    first = await read_events(lines, 3)
    async with httpx.AsyncClient(base_url=second_instance.base_url) as other:
        stopped_at = time.monotonic()
        answer = await other.post(f"/api/tasks/stop/{task_id}", headers=user.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] is True
    rest = await rest_of(lines)
    latency = time.monotonic() - stopped_at
    assert rest[-1] == "[DONE]"
    assert rest[-2]["choices"][0]["finish_reason"] == "stop"
    assert latency < 2.0
    # The upstream connection was closed: that is what frees the GPU.
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)
    received = content_of([*first, *rest])
    messages = await chat_stack.chat_messages(user, chat_id)
    answer_row = messages[-1]
    assert answer_row["status"] == "cancelled"
    assert answer_row["content"] == received
    assert 0 < len(received.split()) < 60
    # A second stop, or one after the end, changes nothing.
    again = await chat_stack.http.post(f"/api/tasks/stop/{task_id}", headers=user.headers)
    assert again.status_code == 200
    assert again.json()["status"] is False


async def test_a_stop_by_chat_ends_its_generation(chat_stack: ChatStack):
    chat_stack.emulator.set_faults(token_delay=0.05)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    response, lines = await open_stream(
        chat_stack, user, chat_body(LONG, chat_id=chat_id, stream=True)
    )
    await read_events(lines, 2)
    tasks = await chat_stack.http.get(f"/api/tasks/chat/{chat_id}", headers=user.headers)
    assert tasks.json() == {"task_ids": [response.headers["x-stratus-task-id"]]}
    stop = await chat_stack.http.post(f"/api/v1/chats/{chat_id}/stop", headers=user.headers)
    assert stop.status_code == 200
    assert stop.json()["task_ids"] == [response.headers["x-stratus-task-id"]]
    rest = await rest_of(lines)
    assert rest[-1] == "[DONE]"
    assert (await chat_stack.chat_messages(user, chat_id))[-1]["status"] == "cancelled"


async def test_nobody_else_can_stop_a_generation(chat_stack: ChatStack):
    chat_stack.emulator.set_faults(token_delay=0.01)
    owner = chat_stack.user
    intruder = await chat_stack.other_user()
    chat_id = await chat_stack.new_chat(owner)
    response, lines = await open_stream(
        chat_stack, owner, chat_body("a b c d e f g h i j", chat_id=chat_id, stream=True)
    )
    task_id = response.headers["x-stratus-task-id"]
    foreign = await chat_stack.http.post(f"/api/tasks/stop/{task_id}", headers=intruder.headers)
    by_chat = await chat_stack.http.post(f"/api/v1/chats/{chat_id}/stop", headers=intruder.headers)
    assert (foreign.status_code, by_chat.status_code) == (404, 404)
    rest = await rest_of(lines)
    assert rest[-1] == "[DONE]"
    assert (await chat_stack.chat_messages(owner, chat_id))[-1]["status"] == "complete"


async def test_an_admin_may_stop_anyones_chat_generation(chat_stack: ChatStack):
    chat_stack.emulator.set_faults(token_delay=0.05)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    response, lines = await open_stream(
        chat_stack, user, chat_body(LONG, chat_id=chat_id, stream=True)
    )
    await read_events(lines, 2)
    task_id = response.headers["x-stratus-task-id"]
    stop = await chat_stack.http.post(
        f"/api/tasks/stop/{task_id}", headers=chat_stack.admin.headers
    )
    assert stop.status_code == 200
    assert (await rest_of(lines))[-1] == "[DONE]"
    assert (await chat_stack.chat_messages(user, chat_id))[-1]["status"] == "cancelled"


async def test_unknown_tasks_are_404(chat_stack: ChatStack):
    response = await chat_stack.http.post(
        "/api/tasks/stop/no-such-task", headers=chat_stack.user.headers
    )
    assert response.status_code == 404


async def test_a_bare_api_client_leaving_closes_the_upstream(chat_stack: ChatStack):
    emulator = chat_stack.emulator
    emulator.set_faults(token_delay=0.05)
    response, lines = await open_stream(chat_stack, chat_stack.user, chat_body(LONG, stream=True))
    await read_events(lines, 3)
    await response.aclose()
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


async def test_a_chat_turn_runs_on_and_is_saved_when_its_client_leaves(chat_stack: ChatStack):
    emulator = chat_stack.emulator
    emulator.set_faults(token_delay=0.01)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    words = " ".join(f"w{i}" for i in range(30))
    response, lines = await open_stream(
        chat_stack, user, chat_body(words, chat_id=chat_id, stream=True)
    )
    await read_events(lines, 3)
    await response.aclose()
    assert emulator.stats.wait_for(lambda s: s.streams_completed == 1, timeout=5)
    for _ in range(50):
        answer = (await chat_stack.chat_messages(user, chat_id))[-1]
        if answer["status"] != "streaming":
            break
        await asyncio.sleep(0.05)
    assert answer["status"] == "complete"
    assert answer["content"] == "You said: " + words


async def test_a_killed_instance_leaves_its_checkpoint_which_reads_as_interrupted(
    chat_stack: ChatStack, tmp_path
):
    emulator = chat_stack.emulator
    emulator.set_faults(token_delay=0.05)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    with app_process(tmp_path, {"STRATUS_CHAT_STALE_AFTER": "1"}) as doomed:
        async with httpx.AsyncClient(base_url=doomed.base_url, timeout=30) as client:
            request = client.build_request(
                "POST",
                "/v1/chat/completions",
                json=chat_body(LONG, chat_id=chat_id, stream=True),
                headers=user.headers,
            )
            response = await client.send(request, stream=True)
            received = await read_events(response.aiter_lines(), 20)
            doomed.kill()
    seen = content_of(received)
    await asyncio.sleep(1.2)
    # The reader uses the same stale rule: configured here through the main server's settings.
    from functions.chat.chats.store import ChatsStore

    store = ChatsStore(stale_after=1.0)
    chat = await store.get(chat_id, user.id)
    assert chat is not None
    answer = chat[1][-1]
    assert answer.status == "interrupted"
    assert answer.content
    assert seen.startswith(answer.content)


async def test_the_lambda_deadline_ends_the_answer_cleanly(chat_stack: ChatStack, tmp_path):
    emulator = chat_stack.emulator
    emulator.set_faults(token_delay=0.05)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "stratus-chat", "STRATUS_CHAT_DEADLINE_MARGIN": "0"}
    with app_process(tmp_path, lambda_env) as function:
        async with httpx.AsyncClient(base_url=function.base_url, timeout=30) as client:
            # Long enough to start under load, short enough to cut the 3 s answer.
            deadline_ms = int((time.time() + 2.0) * 1000)
            context = json.dumps({"request_id": "r-1", "deadline": deadline_ms})
            response = await client.post(
                "/v1/chat/completions",
                json=chat_body(LONG, chat_id=chat_id, stream=True),
                headers={**user.headers, "x-amzn-lambda-context": context},
            )
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    answer = (await chat_stack.chat_messages(user, chat_id))[-1]
    assert answer["status"] == "interrupted"
    assert answer["content"] == content_of(events)
    assert 0 < len(answer["content"].split()) < 60
