"""The per-user limits hold on the three embedding routes as on chat, through the real API.

``/v1/embeddings``, ``/ollama/api/embed`` and ``/ollama/api/embeddings`` all go through ``metered``
(``functions/chat/generation/metered.py``): the per-minute request limit and the daily token
budget refuse with 429 and Retry-After, and a refused request never reaches the model host.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.auth import Account, apply_env
from tests.support.chat import ChatStack

pytestmark = pytest.mark.anyio

WORDS = " ".join(f"word{i}" for i in range(12))


@dataclass(frozen=True)
class EmbedRoute:
    path: str
    body: dict[str, Any]
    upstream: str  # how the emulator counts what reached it

    def __str__(self) -> str:
        return self.path


ROUTES = [
    EmbedRoute(
        "/v1/embeddings", {"model": "emulator-embed", "input": ["a b c", "d"]}, "POST /api/embed"
    ),
    EmbedRoute(
        "/ollama/api/embed", {"model": "emulator-embed", "input": ["a b c", "d"]}, "POST /api/embed"
    ),
    EmbedRoute(
        "/ollama/api/embeddings",
        {"model": "emulator-embed", "prompt": "a b c"},
        "POST /api/embeddings",
    ),
]


def error_message(path: str, response: httpx.Response) -> str:
    body = response.json()
    if path.startswith("/v1/"):
        assert body["error"]["type"] == "rate_limit_error", body
        assert body["error"]["code"] == "rate_limit_exceeded", body
        return str(body["error"]["message"])
    return str(body["error"])  # Ollama's shape


async def embed(stack: ChatStack, account: Account, route: EmbedRoute) -> httpx.Response:
    return await stack.http.post(route.path, json=route.body, headers=account.headers)


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_the_per_minute_limit_refuses_embeddings(chat_stack: ChatStack, route: EmbedRoute):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "2"})
    user = chat_stack.user
    results = [await embed(chat_stack, user, route) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 200, 429], results[-1].text
    refused = results[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 66
    assert "Too many requests" in error_message(route.path, refused)
    # The refused request never reached the model host.
    assert chat_stack.emulator.stats.requests(route.upstream) == 2
    # Another user has an allowance of their own.
    other = await chat_stack.other_user()
    assert (await embed(chat_stack, other, route)).status_code == 200


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_a_spent_token_budget_refuses_embeddings(chat_stack: ChatStack, route: EmbedRoute):
    apply_env({"STRATUS_DAILY_TOKEN_BUDGET": "5"})
    user = chat_stack.user
    # Spend the day's budget on another route: the budget is the user's, whatever spent it.
    spend = await chat_stack.http.post(
        "/v1/embeddings", json={"model": "emulator-embed", "input": WORDS}, headers=user.headers
    )
    assert spend.status_code == 200, spend.text
    assert spend.json()["usage"]["prompt_tokens"] >= 5
    reached = chat_stack.emulator.stats.requests(route.upstream)
    refused = await embed(chat_stack, user, route)
    assert refused.status_code == 429, refused.text
    assert "token budget" in error_message(route.path, refused)
    assert 1 <= int(refused.headers["retry-after"]) <= 86400
    assert chat_stack.emulator.stats.requests(route.upstream) == reached


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_embedding_tokens_count_toward_the_budget(chat_stack: ChatStack, route: EmbedRoute):
    # Ollama's legacy /api/embeddings reports no count (nor does the emulator, like Ollama):
    # what it embedded is estimated from the prompt, so it spends the budget like the others.
    apply_env({"STRATUS_DAILY_TOKEN_BUDGET": "5"})
    user = chat_stack.user
    field = "prompt" if "prompt" in route.body else "input"
    body = {**route.body, field: WORDS}
    first = await chat_stack.http.post(route.path, json=body, headers=user.headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    if "embedding" in answer:
        assert "prompt_eval_count" not in answer  # the count the gateway had to estimate
    else:
        used = (
            answer["usage"]["prompt_tokens"] if "usage" in answer else answer["prompt_eval_count"]
        )
        assert used >= 5
    second = await chat_stack.http.post(route.path, json=body, headers=user.headers)
    assert second.status_code == 429, second.text
    assert "token budget" in error_message(route.path, second)
    assert chat_stack.emulator.stats.requests(route.upstream) == 1


async def test_admins_are_exempt_on_embeddings_too(chat_stack: ChatStack):
    apply_env({"STRATUS_RATE_LIMIT_RPM": "1"})
    statuses = [
        (await embed(chat_stack, chat_stack.admin, ROUTES[0])).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
