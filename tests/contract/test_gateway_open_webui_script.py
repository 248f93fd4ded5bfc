"""A script written for Open WebUI's documented API (docs.openwebui.com, "API Endpoints") runs
unchanged against Stratus: ``GET /api/models`` and ``POST /api/chat/completions`` with
``Authorization: Bearer <api key>``, streamed and not.

The functions below are written the way those docs show them: plain ``requests``, the key in a
Bearer header, the model id taken from the model list. Only the base URL and the key differ.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import requests

from local.emulator import expected_reply
from tests.support.auth import create_key
from tests.support.chat import ChatStack

pytestmark = pytest.mark.anyio

QUESTION = "Why is the sky blue?"


# -- the script, as Open WebUI's documentation writes it -------------------------------------


def list_models(base_url: str, token: str) -> list[dict[str, Any]]:
    url = f"{base_url}/api/models"
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.get(url, headers=headers, timeout=30)
    response.raise_for_status()
    models: list[dict[str, Any]] = response.json()["data"]
    return models


def chat_with_model(base_url: str, token: str, model: str) -> dict[str, Any]:
    url = f"{base_url}/api/chat/completions"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data: Any = {"model": model, "messages": [{"role": "user", "content": QUESTION}]}
    response = requests.post(url, headers=headers, json=data, timeout=30)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def stream_chat_with_model(base_url: str, token: str, model: str) -> str:
    url = f"{base_url}/api/chat/completions"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data: Any = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
    }
    text = ""
    with requests.post(url, headers=headers, json=data, stream=True, timeout=30) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line or not line.startswith(b"data: "):
                continue
            payload = line[len(b"data: ") :]
            if payload == b"[DONE]":
                break
            chunk = json.loads(payload)
            if chunk["choices"]:
                text += chunk["choices"][0]["delta"].get("content") or ""
    return text


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture
async def api_key(chat_stack: ChatStack) -> str:
    # Open WebUI: Settings > Account > API keys; here the same through the API.
    return await create_key(chat_stack.http, chat_stack.user, name="script")


async def test_the_documented_model_list(chat_stack: ChatStack, api_key: str):
    models = await asyncio.to_thread(list_models, chat_stack.base_url, api_key)
    ids = {m["id"] for m in models}
    assert "emulator-chat:latest" in ids
    chat = next(m for m in models if m["id"] == "emulator-chat:latest")
    assert chat["name"] == "emulator-chat:latest"
    assert chat["owned_by"] == "ollama"
    assert chat["ollama"]["model"] == "emulator-chat:latest"


async def test_the_documented_chat_completion(chat_stack: ChatStack, api_key: str):
    models = await asyncio.to_thread(list_models, chat_stack.base_url, api_key)
    model = next(m["id"] for m in models if m["id"].startswith("emulator-chat"))
    answer = await asyncio.to_thread(chat_with_model, chat_stack.base_url, api_key, model)
    reply = "".join(expected_reply([{"role": "user", "content": QUESTION}]))
    assert answer["choices"][0]["message"]["content"] == reply
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["model"] == model


async def test_the_documented_chat_completion_streamed(chat_stack: ChatStack, api_key: str):
    text = await asyncio.to_thread(
        stream_chat_with_model, chat_stack.base_url, api_key, "emulator-chat"
    )
    assert text == "".join(expected_reply([{"role": "user", "content": QUESTION}]))
    assert chat_stack.emulator.stats.streams_completed == 1


async def test_a_jwt_from_sign_in_works_the_same(chat_stack: ChatStack):
    # The docs allow either an API key or the JWT that sign-in returns.
    answer = await asyncio.to_thread(
        chat_with_model, chat_stack.base_url, chat_stack.user.token, "emulator-chat"
    )
    assert answer["choices"][0]["finish_reason"] == "stop"


async def test_a_revoked_key_is_refused(chat_stack: ChatStack, api_key: str):
    listing = await chat_stack.http.get("/api/v1/auths/api_keys", headers=chat_stack.user.headers)
    (key_info,) = listing.json()
    deleted = await chat_stack.http.delete(
        f"/api/v1/auths/api_keys/{key_info['id']}", headers=chat_stack.user.headers
    )
    assert deleted.status_code in {200, 204}, deleted.text
    with pytest.raises(requests.HTTPError) as caught:
        await asyncio.to_thread(chat_with_model, chat_stack.base_url, api_key, "emulator-chat")
    assert caught.value.response is not None
    assert caught.value.response.status_code == 401
    assert chat_stack.emulator.stats.requests("POST /api/chat") == 0
