"""/healthz and /readyz of each function, against real Postgres, moto and the model host."""

from __future__ import annotations

import os

import pytest
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app as create_auth
from functions.chat.app import create_app as create_chat
from functions.rag.app import create_app as create_rag
from stratus.settings import reset_settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("create_app", [create_auth, create_chat, create_rag])
async def test_healthz_answers_without_any_configuration(create_app, monkeypatch):
    # GIVEN no database or AWS configuration at all: liveness must not touch either
    for name in ("DATABASE_URL", "AWS_ENDPOINT_URL_DYNAMODB", "OLLAMA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    async with AsyncTestClient(create_app()) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


async def test_readyz_reports_each_dependency_and_degrades_without_model_host(env):
    async with AsyncTestClient(create_chat()) as client:
        response = await client.get("/readyz")
    body = response.json()
    # The model host is unreachable in this environment: degraded, not fatal.
    assert response.status_code == 200, body
    assert body["status"] == "degraded"
    assert body["checks"]["postgres"]["status"] == "ok"
    assert body["checks"]["dynamodb"]["status"] == "ok"
    assert body["checks"]["model_host"]["status"] == "fail"
    assert body["checks"]["model_host"]["required"] is False
    assert all(isinstance(c["latency_ms"], float) for c in body["checks"].values())
    assert "127.0.0.1:9" not in response.text


async def test_readyz_is_503_when_a_required_dependency_is_down(env):
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:9"
    reset_settings()
    async with AsyncTestClient(create_auth()) as client:
        response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["dynamodb"]["status"] == "fail"
    assert body["checks"]["postgres"]["status"] == "ok"
