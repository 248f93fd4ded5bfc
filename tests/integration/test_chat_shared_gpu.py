"""The shared GPU behind ``/ollama``, ``/v1`` and ``/api``: nobody pins, unloads or inflates it.

Everything is read off what the emulator (the model host) actually received (matrix row 34),
and the body rules are ``/v1``'s on ``/ollama`` too, with its embed caps (matrix row 35).
"""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account
from tests.support.chat import ChatStack, chat_body, serve_chat_stack

pytestmark = pytest.mark.anyio

MESSAGES = [{"role": "user", "content": "hello"}]
HOSTILE_OPTIONS = {
    "num_ctx": 131072,
    "num_gpu": 999,
    "main_gpu": 1,
    "num_thread": 64,
    "use_mlock": True,
    "temperature": 0.5,
}


async def ollama(stack: ChatStack, account: Account, route: str, body: dict[str, Any]) -> Any:
    return await stack.http.post(f"/ollama/api/{route}", json=body, headers=account.headers)


def sent(stack: ChatStack, route: str) -> dict[str, Any]:
    body = stack.emulator.stats.last_body(route)
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    ("asked", "received"),
    [
        (-1, None),
        ("-1m", None),
        (0, None),
        ("0", None),
        ("1000h", 1800),
        (86400, 1800),
        ("10m", "10m"),
        (120, 120),
    ],
)
async def test_a_users_keep_alive_is_clamped_and_never_pins_or_unloads(
    chat_stack: ChatStack, asked: Any, received: Any
):
    response = await ollama(
        chat_stack,
        chat_stack.user,
        "chat",
        {"model": "emulator-chat", "messages": MESSAGES, "stream": False, "keep_alive": asked},
    )
    assert response.status_code == 200, response.text
    assert sent(chat_stack, "/api/chat").get("keep_alive") == received


async def test_the_empty_prompt_unload_does_not_unload(chat_stack: ChatStack):
    """Ollama unloads a model on an empty request with keep_alive 0: a user's reaches the host
    as a plain load, with the host's default keep_alive."""
    for route, body in (
        ("chat", {"model": "emulator-chat", "messages": [], "keep_alive": 0}),
        ("generate", {"model": "emulator-chat", "keep_alive": 0}),
    ):
        response = await ollama(chat_stack, chat_stack.user, route, body)
        assert response.status_code == 200, response.text
        assert "keep_alive" not in sent(chat_stack, f"/api/{route}")


async def test_hardware_options_are_dropped_and_the_context_capped_for_users(
    chat_stack: ChatStack,
):
    for route, body in (
        ("chat", {"model": "emulator-chat", "messages": MESSAGES, "stream": False}),
        ("generate", {"model": "emulator-chat", "prompt": "hi", "stream": False}),
        ("embed", {"model": "emulator-embed", "input": "hi"}),
        ("embeddings", {"model": "emulator-embed", "prompt": "hi"}),
    ):
        response = await ollama(
            chat_stack, chat_stack.user, route, {**body, "options": HOSTILE_OPTIONS}
        )
        assert response.status_code == 200, (route, response.text)
        assert sent(chat_stack, f"/api/{route}")["options"] == {
            "num_ctx": 32768,
            "temperature": 0.5,
        }


async def test_an_admin_is_the_operator_and_may_pin(chat_stack: ChatStack):
    body = {
        "model": "emulator-chat",
        "messages": MESSAGES,
        "stream": False,
        "keep_alive": -1,
        "options": HOSTILE_OPTIONS,
    }
    response = await ollama(chat_stack, chat_stack.admin, "chat", body)
    assert response.status_code == 200
    received = sent(chat_stack, "/api/chat")
    assert received["keep_alive"] == -1
    assert received["options"] == HOSTILE_OPTIONS


async def test_the_operators_settings_win_and_the_caps_are_settings(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    env = {
        "STRATUS_MODEL_KEEP_ALIVE": "emulator-chat=2h",
        "STRATUS_MAX_NUM_CTX": "4096",
        "STRATUS_MAX_KEEP_ALIVE": "5m",
    }
    async with serve_chat_stack(emulator, env) as stack:
        body = {
            "model": "emulator-chat",
            "messages": MESSAGES,
            "stream": False,
            "keep_alive": "1m",
            "options": {"num_ctx": 8192},
        }
        for account in (stack.user, stack.admin):
            assert (await ollama(stack, account, "chat", body)).status_code == 200
            assert sent(stack, "/api/chat")["keep_alive"] == "2h"
        await ollama(
            stack,
            stack.user,
            "generate",
            {
                "model": "emulator-think",
                "prompt": "x",
                "keep_alive": "1h",
                "options": {"num_ctx": 8192},
                "stream": False,
            },
        )
        received = sent(stack, "/api/generate")
        assert received["keep_alive"] == 300
        assert received["options"] == {"num_ctx": 4096}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/chat/completions"])
async def test_the_openai_routes_send_nothing_a_user_chose_for_the_gpu(
    chat_stack: ChatStack, path: str
):
    body = chat_body("hi", keep_alive=-1, params={"options": HOSTILE_OPTIONS})
    response = await chat_stack.complete(chat_stack.user, body, path)
    assert response.status_code == 200, response.text
    received = sent(chat_stack, "/api/chat")
    assert "keep_alive" not in received
    assert not set(received.get("options", {})) & {"num_gpu", "num_ctx", "num_thread"}


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("chat", {"model": "emulator-chat", "messages": [], "keep_alive": 0}),
        ("generate", {"model": "emulator-chat", "prompt": "hi"}),
        ("embed", {"model": "emulator-embed", "input": "hi"}),
    ],
)
async def test_a_refused_request_never_reaches_the_host(
    auth_env: dict[str, str], emulator: EmulatorHandle, route: str, body: dict[str, Any]
):
    async with serve_chat_stack(emulator, {"STRATUS_RATE_LIMIT_RPM": "1"}) as stack:
        assert (await ollama(stack, stack.user, route, body)).status_code == 200
        refused = await ollama(stack, stack.user, route, body)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert emulator.stats.requests(f"POST /api/{route}") == 1
        # The same on the OpenAI routes: the limit answers, not the host.
        completion = await stack.complete(stack.user, chat_body("hi"))
        assert completion.status_code == 429
        assert emulator.stats.requests("POST /api/chat") == (1 if route == "chat" else 0)


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        (
            "chat",
            {"model": "emulator-chat", "messages": MESSAGES, "unknown_thing": 1},
            "unknown_thing",
        ),
        (
            "chat",
            {"model": "emulator-chat", "messages": [{"role": "user", "content": "a\x00b"}]},
            "messages[0].content",
        ),
        ("generate", {"model": "emulator-chat", "prompt": "a\x00b"}, "prompt"),
        ("generate", {"model": "emulator-chat", "prompt": "x", "host": "http://evil"}, "host"),
        ("embed", {"model": "emulator-embed", "input": ["ok", "a\x00b"]}, "input[1]"),
        ("embed", {"model": "emulator-embed", "input": "x", "extra": True}, "extra"),
        ("embeddings", {"model": "emulator-embed", "prompt": "a\x00b"}, "prompt"),
        (
            "chat",
            {"model": "emulator-chat", "messages": MESSAGES, "keep_alive": "forever"},
            "keep_alive",
        ),
        (
            "chat",
            {"model": "emulator-chat", "messages": MESSAGES, "options": {"stop": ["\x00"]}},
            "options.stop",
        ),
    ],
)
async def test_ollama_bodies_follow_the_v1_rules(
    chat_stack: ChatStack, route: str, body: dict[str, Any], field: str
):
    response = await ollama(chat_stack, chat_stack.user, route, body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]
    assert chat_stack.emulator.stats.requests(f"POST /api/{route}") == 0


async def test_ollama_embed_takes_at_most_2048_inputs(chat_stack: ChatStack):
    too_many = {"model": "emulator-embed", "input": ["x"] * 2049}
    response = await ollama(chat_stack, chat_stack.user, "embed", too_many)
    assert response.status_code == 422
    assert "input" in response.json()["error"]
    assert chat_stack.emulator.stats.requests("POST /api/embed") == 0
    fine = await ollama(chat_stack, chat_stack.user, "embed", {**too_many, "input": ["x"] * 2048})
    assert fine.status_code == 200
    assert len(fine.json()["embeddings"]) == 2048


async def test_embeddings_larger_than_the_response_cap_are_not_relayed(
    auth_env: dict[str, str], emulator: EmulatorHandle
):
    # 20 vectors of 384 floats are about 30 KB of JSON; one is about 1.5 KB.
    async with serve_chat_stack(emulator, {"STRATUS_UPSTREAM_MAX_RESPONSE_BYTES": "8192"}) as stack:
        inputs = [f"text {i}" for i in range(20)]
        answers = [
            await ollama(stack, stack.user, "embed", {"model": "emulator-embed", "input": inputs}),
            await stack.http.post(
                "/v1/embeddings",
                json={"model": "emulator-embed", "input": inputs},
                headers=stack.user.headers,
            ),
        ]
        for answer in answers:
            assert answer.status_code == 502, answer.text[:300]
            assert "larger than" in answer.text
        small = await ollama(stack, stack.user, "embed", {"model": "emulator-embed", "input": "x"})
        assert small.status_code == 200
