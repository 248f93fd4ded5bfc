"""Accounting that a cut-off can't dodge (matrix row 33).

Tokens relayed before a stop, a hang-up, an upstream error or the time limit count toward the
daily budget, and the saved usage is the usage so far (estimated, and marked so), never zeros.
The emulator streams without end (or errs after N chunks), so every answer here is cut.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from local.emulator.stats import EmulatorStats
from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account
from tests.support.chat import ChatStack, chat_body, content_of, serve_chat_stack, sse_events

pytestmark = pytest.mark.anyio

CUT_AFTER = 300
BUDGET_ENV = {"STRATUS_DAILY_TOKEN_BUDGET": "500"}


@pytest.fixture
async def budget_stack(
    auth_env: dict[str, str], emulator: EmulatorHandle
) -> AsyncIterator[ChatStack]:
    emulator.set_faults(endless=True, token_delay=0.001)
    async with serve_chat_stack(emulator, BUDGET_ENV) as stack:
        yield stack


async def stream_lines(
    stack: ChatStack, account: Account, path: str, body: dict[str, Any]
) -> tuple[httpx.Response, AsyncIterator[str]]:
    request = stack.http.build_request("POST", path, json=body, headers=account.headers)
    response = await stack.http.send(request, stream=True)
    assert response.status_code == 200
    return response, response.aiter_lines()


async def read_chunks(lines: AsyncIterator[str], count: int) -> int:
    """Read until ``count`` chunks with text arrived (SSE or NDJSON)."""
    seen = 0
    async for line in lines:
        payload = line[5:].strip() if line.startswith("data:") else line.strip()
        if not payload or payload == "[DONE]":
            continue
        event = json.loads(payload)
        choices = event.get("choices") or [{}]
        if choices[0].get("delta", {}).get("content") or event.get("message", {}).get("content"):
            seen += 1
            if seen >= count:
                return seen
    return seen


def abandoned(count: int) -> Callable[[EmulatorStats], bool]:
    return lambda stats: stats.streams_abandoned == count


async def saved_answer(stack: ChatStack, account: Account, chat_id: str) -> dict[str, Any]:
    for _ in range(100):
        answer = (await stack.chat_messages(account, chat_id))[-1]
        if answer["status"] != "streaming":
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError("the turn was never saved")


async def assert_budget_spent(stack: ChatStack, account: Account) -> None:
    refused = await stack.complete(account, chat_body("one more, please"))
    assert refused.status_code == 429, refused.text
    assert "token budget" in refused.json()["error"]["message"]


async def test_a_stop_and_a_hang_up_count_what_was_relayed(budget_stack: ChatStack):
    stack, user = budget_stack, budget_stack.user
    # A chat turn, stopped by the user after 300 chunks.
    chat_id = await stack.new_chat(user)
    response, lines = await stream_lines(
        stack, user, "/v1/chat/completions", chat_body("go on", chat_id=chat_id, stream=True)
    )
    assert await read_chunks(lines, CUT_AFTER) == CUT_AFTER
    task_id = response.headers["x-stratus-task-id"]
    stop = await stack.http.post(f"/api/tasks/stop/{task_id}", headers=user.headers)
    assert stop.json()["status"] is True
    await response.aclose()
    answer = await saved_answer(stack, user, chat_id)
    assert answer["status"] == "cancelled"
    usage = answer["usage"]
    assert usage["completion_tokens"] >= CUT_AFTER
    assert usage["prompt_tokens"] > 0
    assert usage["estimated"] is True
    # A bare API call whose client hangs up after 300 chunks.
    response, lines = await stream_lines(
        stack, user, "/v1/chat/completions", chat_body("go on", stream=True)
    )
    await read_chunks(lines, CUT_AFTER)
    await response.aclose()
    assert stack.emulator.stats.wait_for(lambda s: s.streams_abandoned == 2, timeout=5)
    await asyncio.sleep(0.2)  # the finishing write follows the close
    await assert_budget_spent(stack, user)


async def test_an_upstream_that_dies_mid_answer_still_costs_what_it_sent(
    budget_stack: ChatStack,
):
    stack, user = budget_stack, budget_stack.user
    stack.emulator.set_faults(endless=False, error_after=CUT_AFTER, token_delay=0.0)
    chat_id = await stack.new_chat(user)
    body = chat_body(" ".join(f"w{i}" for i in range(400)), chat_id=chat_id, stream=True)
    response = await stack.complete(user, body)
    assert '"error"' in response.text
    answer = await saved_answer(stack, user, chat_id)
    assert answer["status"] == "error"
    assert answer["usage"]["completion_tokens"] >= CUT_AFTER
    assert answer["usage"]["estimated"] is True
    await assert_budget_spent(stack, user)


async def test_the_time_limit_saves_the_usage_so_far(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    emulator.set_faults(endless=True, token_delay=0.002)
    env = {**BUDGET_ENV, "STRATUS_CHAT_MAX_SECONDS": "1"}
    async with serve_chat_stack(emulator, env) as stack:
        user = stack.user
        chat_id = await stack.new_chat(user)
        # Cut by the generation time limit (the same path as Lambda's deadline).
        cut = await stack.complete(user, chat_body("go on", chat_id=chat_id, stream=True))
        events = sse_events(cut.text)
        assert events[-1] == "[DONE]"
        relayed = sum(1 for e in events[:-1] if e["choices"][0]["delta"].get("content"))
        answer = await saved_answer(stack, user, chat_id)
        assert answer["status"] == "interrupted"
        # The documented estimate: chunks with text, or characters / 4 if that is more.
        chars = len(content_of(events))
        assert answer["usage"]["completion_tokens"] == max(relayed, -(-chars // 4))
        assert relayed > 0
        assert answer["usage"]["estimated"] is True


async def test_hanging_up_on_ollamas_own_api_counts_too(budget_stack: ChatStack):
    stack, user = budget_stack, budget_stack.user
    body = {"model": "emulator-chat", "messages": [{"role": "user", "content": "go on"}]}
    for cut in (1, 2):
        response, lines = await stream_lines(stack, user, "/ollama/api/chat", body)
        assert await read_chunks(lines, CUT_AFTER) == CUT_AFTER
        await response.aclose()
        assert stack.emulator.stats.wait_for(abandoned(cut), timeout=5)
    await asyncio.sleep(0.2)
    await assert_budget_spent(stack, user)
