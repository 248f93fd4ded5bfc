"""The chat function on a real server: the composed app over loopback, the emulator as model host.

Requests go over real sockets (``httpx.AsyncClient``), so concurrent requests truly overlap and
streams arrive as the server writes them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from local.emulator import EmulatorConfig, running_emulator
from local.emulator.testing import EmulatorHandle
from tests.support.auth import Account, admin_and_user, apply_env, signup
from tests.support.live_server import live_server

# Fast polls and checkpoints keep the tests short; the defaults are tested in unit tests.
CHAT_TEST_ENV = {
    "STRATUS_CHAT_POLL_INTERVAL": "0.05",
    "STRATUS_CHAT_CHECKPOINT_INTERVAL": "0.2",
    "STRATUS_RATE_LIMIT_RPM": "0",
    "STRATUS_DAILY_TOKEN_BUDGET": "0",
}


# The second emulator, an OpenAI-compatible upstream with models of its own (``remote``).
REMOTE_MODELS = {"remote-chat:latest", "remote-embed:latest"}
REMOTE_KEY = "remote-upstream-key-0123456789"


@dataclass
class ChatStack:
    base_url: str
    emulator: EmulatorHandle
    http: httpx.AsyncClient
    admin: Account
    user: Account

    async def other_user(self) -> Account:
        other = await signup(self.http)
        response = await self.http.post(
            f"/api/v1/users/{other.id}/update", json={"role": "user"}, headers=self.admin.headers
        )
        assert response.status_code == 200, response.text
        return Account(other.id, other.email, other.password, other.token, "user")

    async def new_chat(self, account: Account, title: str = "Test chat") -> str:
        response = await self.http.post(
            "/api/v1/chats/new", json={"chat": {"title": title}}, headers=account.headers
        )
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    async def chat_messages(self, account: Account, chat_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/api/v1/chats/{chat_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        history = response.json()["chat"]["history"]["messages"]
        return sorted(history.values(), key=lambda m: (m["timestamp"], m["role"] != "user"))

    async def complete(
        self, account: Account, body: Mapping[str, Any], path: str = "/v1/chat/completions"
    ) -> httpx.Response:
        return await self.http.post(path, json=dict(body), headers=account.headers)


def chat_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "emulator-chat", "messages": [{"role": "user", "content": text}], **extra}


def sse_events(text: str) -> list[Any]:
    """The JSON payloads of an SSE body, and the literal ``[DONE]``."""
    events: list[Any] = []
    for block in text.split("\n\n"):
        line = block.strip()
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def content_of(events: list[Any]) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for event in events
        if isinstance(event, dict)
        for choice in event.get("choices", [])
    )


@asynccontextmanager
async def serve_chat_stack(
    emulator: EmulatorHandle, env: Mapping[str, str] | None = None
) -> AsyncIterator[ChatStack]:
    """The composed app on a live server, with ``emulator`` as the Ollama host, unless ``env``
    names other upstreams (``OLLAMA_BASE_URLS``, ``OPENAI_API_BASE_URL``, ...). Use it inside a
    test that has ``auth_env``, which restores the environment afterwards."""
    apply_env({"OLLAMA_BASE_URL": emulator.base_url, **CHAT_TEST_ENV, **(env or {})})
    from local.composed import create_local_app

    with live_server(create_local_app()) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            admin, user = await admin_and_user(http)
            yield ChatStack(server.base_url, emulator, http, admin, user)


@pytest.fixture
async def chat_stack(
    auth_env: dict[str, str], emulator: EmulatorHandle
) -> AsyncIterator[ChatStack]:
    async with serve_chat_stack(emulator) as stack:
        yield stack


@pytest.fixture(scope="module")
def remote_server() -> Iterator[EmulatorHandle]:
    config = EmulatorConfig(
        chat_models=("remote-chat",),
        thinking_models=(),
        embed_models=("remote-embed",),
        embed_dimensions=(),
    )
    with running_emulator(config) as handle:
        yield handle


@pytest.fixture
def remote(remote_server: EmulatorHandle) -> EmulatorHandle:
    """An emulator as the OpenAI-compatible upstream; stack env from ``remote_env(remote)``."""
    remote_server.reset()
    # It wants its API key, as a hosted OpenAI-compatible API does.
    remote_server.set_faults(require_api_key=REMOTE_KEY)
    return remote_server


def remote_env(remote: EmulatorHandle, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_API_BASE_URL": f"{remote.base_url}/v1",
        "OPENAI_API_KEY": REMOTE_KEY,
        "ENABLE_OLLAMA_API": "true",
        **extra,
    }


@pytest.fixture
async def mixed_stack(
    auth_env: dict[str, str], emulator: EmulatorHandle, remote: EmulatorHandle
) -> AsyncIterator[ChatStack]:
    """``chat_stack`` with ``remote`` as an OpenAI-compatible upstream beside the Ollama host."""
    async with serve_chat_stack(emulator, remote_env(remote)) as stack:
        yield stack
