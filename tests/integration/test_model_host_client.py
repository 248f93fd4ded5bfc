"""The model-host client against the Ollama emulator: timeouts, bearer token, error mapping."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.emulator.testing import EmulatorHandle, running_emulator
from stratus.errors import ModelHostUnavailableError, ModelNotFoundError, UpstreamError
from stratus.modelhost import close_model_host, get_model_host
from stratus.settings import reset_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def emulator(env) -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        os.environ["OLLAMA_BASE_URL"] = handle.base_url
        reset_settings()
        yield handle


async def test_version_reaches_the_configured_host_only(emulator):
    client = await get_model_host()
    try:
        assert await client.version() == "0.12.0"
    finally:
        await close_model_host()
    record = emulator.stats.last_request
    assert record is not None
    assert record.host == f"127.0.0.1:{emulator.port}"
    assert record.has_authorization is False


async def test_bearer_token_is_sent_to_the_authenticating_proxy(emulator):
    emulator.set_faults(require_api_key="gpu-proxy-key")
    client = await get_model_host()
    with pytest.raises(UpstreamError):
        await client.version()
    await close_model_host()

    os.environ["OLLAMA_API_KEY"] = "gpu-proxy-key"
    reset_settings()
    client = await get_model_host()
    try:
        assert await client.version() == "0.12.0"
    finally:
        await close_model_host()
    assert emulator.stats.last_request.has_authorization is True


async def test_unknown_model_is_model_not_found(emulator):
    client = await get_model_host()
    try:
        with pytest.raises(ModelNotFoundError) as caught:
            await client.post_json("/api/show", {"model": "no-such-model"})
    finally:
        await close_model_host()
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"


async def test_upstream_5xx_is_a_503_without_the_upstream_url(emulator):
    emulator.set_faults(fail_status=503)
    client = await get_model_host()
    try:
        with pytest.raises(ModelHostUnavailableError) as caught:
            await client.post_json("/api/embed", {"model": "emulator-embed", "input": "x"})
    finally:
        await close_model_host()
    assert emulator.base_url not in caught.value.message


@pytest.mark.parametrize("expose", [False, True])
async def test_unreachable_host_names_the_url_only_when_allowed(env, expose):
    os.environ["OLLAMA_BASE_URL"] = "http://127.0.0.1:9"
    os.environ["STRATUS_EXPOSE_UPSTREAM_URLS"] = "true" if expose else "false"
    reset_settings()
    client = await get_model_host()
    try:
        with pytest.raises(ModelHostUnavailableError) as caught:
            await client.version()
    finally:
        await close_model_host()
    error = caught.value
    assert error.status_code == 503
    assert ("http://127.0.0.1:9" in error.message) is expose
    assert "OLLAMA_BASE_URL" in error.message or expose
    # It claims only what works without a model host in this version.
    assert "Sign-in and accounts still work" in error.message
    assert "chats" not in error.message.lower()
    assert "files" not in error.message.lower()
