"""Per-user limits and the shared state store's failures, through the real API (row 27)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.auth import apply_env
from tests.support.chat import ChatStack, chat_body, sse_events
from tests.support.dynamodb_faults import dynamodb_faults
from tests.support.hanging import hanging_listener

pytestmark = pytest.mark.anyio

LONG = " ".join(f"word{i}" for i in range(40))


async def test_requests_over_the_per_minute_limit_get_429_with_retry_after(chat_stack: ChatStack):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "2"})
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    results = [
        await chat_stack.complete(user, chat_body(f"turn {i}", chat_id=chat_id)) for i in range(3)
    ]
    assert [r.status_code for r in results] == [200, 200, 429]
    refused = results[-1]
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert error["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 66
    # A refused turn leaves nothing behind: two questions, two answers.
    messages = await chat_stack.chat_messages(user, chat_id)
    assert [m["status"] for m in messages] == ["complete"] * 4
    # Other users have their own allowance.
    other = await chat_stack.other_user()
    assert (await chat_stack.complete(other, chat_body("mine"))).status_code == 200


async def test_concurrent_requests_never_exceed_the_limit(chat_stack: ChatStack):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "3"})
    user = chat_stack.user
    results = await asyncio.gather(
        *(chat_stack.complete(user, chat_body(f"burst {i}")) for i in range(10))
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 3
    assert statuses.count(429) == 7


async def test_the_daily_token_budget_refuses_once_used(chat_stack: ChatStack):
    apply_env({"STRATUS_DAILY_TOKEN_BUDGET": "12"})
    user = chat_stack.user
    first = await chat_stack.complete(user, chat_body("a few words here"))
    assert first.status_code == 200
    used = first.json()["usage"]["total_tokens"]
    assert used < 12
    second = await chat_stack.complete(user, chat_body("a few more words here"))
    assert second.status_code == 200
    refused = await chat_stack.complete(user, chat_body("and more"))
    assert refused.status_code == 429
    assert "token budget" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) <= 86400


async def test_admins_are_exempt_by_default(chat_stack: ChatStack):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "1"})
    admin = chat_stack.admin
    statuses = [
        (await chat_stack.complete(admin, chat_body(f"a{i}"))).status_code for i in range(3)
    ]
    assert statuses == [200, 200, 200]
    apply_env({"STRATUS_LIMITS_EXEMPT_ADMINS": "false"})
    statuses = [
        (await chat_stack.complete(admin, chat_body(f"b{i}"))).status_code for i in range(2)
    ]
    assert statuses == [200, 429]


async def test_without_the_shared_state_store_chat_still_answers(chat_stack: ChatStack):
    apply_env({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9", "STRATUS_RATE_LIMIT_RPM": "1"})
    user = chat_stack.user
    for _ in range(2):
        response = await chat_stack.complete(user, chat_body("still here", stream=True))
        assert response.status_code == 200
        assert sse_events(response.text)[-1] == "[DONE]"


async def test_throttled_polls_do_not_stop_the_stream_and_the_stop_is_not_lost(
    chat_stack: ChatStack, moto
):
    with dynamodb_faults(moto.endpoint) as (faults, endpoint):
        apply_env({"AWS_ENDPOINT_URL_DYNAMODB": endpoint})
        chat_stack.emulator.set_faults(token_delay=0.05)
        user = chat_stack.user
        chat_id = await chat_stack.new_chat(user)
        request = chat_stack.http.build_request(
            "POST",
            "/v1/chat/completions",
            json=chat_body(LONG, chat_id=chat_id, stream=True),
            headers=user.headers,
        )
        response = await chat_stack.http.send(request, stream=True)
        task_id = response.headers["x-stratus-task-id"]
        lines = response.aiter_lines()
        faults.fail("BatchGetItem")
        stop = await chat_stack.http.post(f"/api/tasks/stop/{task_id}", headers=user.headers)
        assert stop.status_code == 200
        received = []
        async for line in lines:
            if line.startswith("data:"):
                received.append(line)
            if len(received) == 10:
                break
        # Polls are failing: the stream went on past the stop.
        assert faults.failures("BatchGetItem") >= 1
        faults.fail()
        rest = [line async for line in lines if line.startswith("data:")]
        events = sse_events("\n\n".join(received + rest))
        assert events[-1] == "[DONE]"
        assert events[-2]["choices"][0]["finish_reason"] == "stop"
        assert len(events) < 40
        answer = (await chat_stack.chat_messages(user, chat_id))[-1]
        assert answer["status"] == "cancelled"


async def test_a_hung_shared_state_store_is_not_a_server_error(
    chat_stack: ChatStack, monkeypatch: pytest.MonkeyPatch
):
    # Timeouts carry no DynamoDB response; reading their error code once crashed into a 500.
    # A shorter read timeout than the 2 s in production: the path is the same, three tries at
    # the start and three at the finish, in 2 s instead of 12.
    monkeypatch.setattr("stratus.ephemeral.aio.READ_TIMEOUT", 0.3)
    with hanging_listener() as hung:
        apply_env({"AWS_ENDPOINT_URL_DYNAMODB": hung.url})
        response = await chat_stack.complete(chat_stack.user, chat_body("slow store"))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "You said: slow store"


async def test_a_refused_user_does_not_reach_the_model_host_again_until_retry_after(
    chat_stack: ChatStack,
):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "1"})
    user = chat_stack.user
    assert (await chat_stack.complete(user, chat_body("first"))).status_code == 200
    refused = await chat_stack.complete(user, chat_body("second"))
    assert refused.status_code == 429
    reached = chat_stack.emulator.stats.requests("POST /api/chat")
    for i in range(5):
        again = await chat_stack.complete(user, chat_body(f"again {i}"))
        assert again.status_code == 429
        assert 1 <= int(again.headers["retry-after"]) <= 66
    # The refusals were remembered: no more prompts reached the GPU.
    assert chat_stack.emulator.stats.requests("POST /api/chat") == reached


async def test_one_poll_per_interval_covers_every_stream_and_a_stop_reaches_its_own(
    chat_stack: ChatStack, moto
):
    # GIVEN four streams at once on this instance, two users with two chats each, their
    # DynamoDB calls counted at a proxy
    interval = 0.2
    with dynamodb_faults(moto.endpoint) as (faults, endpoint):
        apply_env({"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "STRATUS_CHAT_POLL_INTERVAL": "0.2"})
        chat_stack.emulator.set_faults(token_delay=0.05)
        users = [chat_stack.user, await chat_stack.other_user()]
        streams = []
        for user in users:
            for _ in range(2):
                chat_id = await chat_stack.new_chat(user)
                body = chat_body(" ".join(["w"] * 80), chat_id=chat_id, stream=True)
                request = chat_stack.http.build_request(
                    "POST", "/v1/chat/completions", json=body, headers=user.headers
                )
                response = await chat_stack.http.send(request, stream=True)
                streams.append((user, chat_id, response, response.aiter_lines()))
        for *_, lines in streams:
            assert (await anext(lines)).startswith("data:")

        # WHEN they run for a while
        before, started = faults.calls(), asyncio.get_running_loop().time()
        await asyncio.sleep(1.0)
        after, elapsed = faults.calls(), asyncio.get_running_loop().time() - started

        # THEN one BatchGetItem per interval read every stream's flags: no per-stream reads
        polls = after.get("BatchGetItem", 0) - before.get("BatchGetItem", 0)
        assert after.get("GetItem", 0) == before.get("GetItem", 0)
        assert 1 <= polls <= elapsed / interval + 1, (polls, elapsed)

        # WHEN one stream of the first user is stopped
        user, _, response, _ = streams[0]
        task_id = response.headers["x-stratus-task-id"]
        stop = await chat_stack.http.post(f"/api/tasks/stop/{task_id}", headers=user.headers)
        assert stop.status_code == 200

        async def rest(lines) -> list[str]:
            return [line async for line in lines if line.startswith("data:")]

        ends = await asyncio.gather(*(rest(lines) for *_, lines in streams))

    # THEN that stream ended early and was saved as cancelled; the other three ran to the end
    assert len(ends[0]) < min(len(end) for end in ends[1:])
    statuses = [
        (await chat_stack.chat_messages(user, chat_id))[-1]["status"]
        for user, chat_id, *_ in streams
    ]
    assert statuses == ["cancelled", "complete", "complete", "complete"]
