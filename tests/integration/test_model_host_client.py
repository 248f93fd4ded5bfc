"""The model upstreams against the Ollama emulator: catalog, allow-list, embeddings, errors."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from local.emulator.testing import EmulatorHandle, running_emulator
from stratus.auth.principal import Principal, Role, Via
from stratus.errors import ModelHostUnavailableError, ModelNotFoundError, UpstreamError
from stratus.modelhost import ModelHost, close_model_host, get_model_host
from stratus.settings import reset_settings

pytestmark = pytest.mark.anyio

USER = Principal("u1", "u@example.test", "U", Role.USER, Via.SESSION, "jti")
ADMIN = Principal("a1", "a@example.test", "A", Role.ADMIN, Via.SESSION, "jti")


def configure(**values: str) -> None:
    os.environ.update(values)
    reset_settings()


@pytest.fixture
def emulator(env) -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        configure(OLLAMA_BASE_URL=handle.base_url)
        yield handle


@pytest.fixture
async def host(emulator) -> AsyncIterator[ModelHost]:
    try:
        yield await get_model_host()
    finally:
        await close_model_host()


async def test_version_reaches_the_configured_host_only(emulator, host):
    assert await host.version() == "0.12.0"
    record = emulator.stats.last_request
    assert record is not None
    assert record.host == f"127.0.0.1:{emulator.port}"
    assert record.has_authorization is False


async def test_bearer_token_is_sent_to_the_authenticating_proxy(emulator):
    emulator.set_faults(require_api_key="gpu-proxy-key")
    try:
        with pytest.raises(UpstreamError, match="credentials"):
            await (await get_model_host()).version()
    finally:
        await close_model_host()
    configure(OLLAMA_API_KEY="gpu-proxy-key")
    try:
        assert await (await get_model_host()).version() == "0.12.0"
    finally:
        await close_model_host()
    assert emulator.stats.last_request.has_authorization is True


async def test_catalog_lists_the_hosts_models_and_resolves_latest(host):
    ids = {m.id for m in await host.catalog.models(host.http)}
    assert {"emulator-chat:latest", "emulator-embed:latest"} <= ids
    choice = await host.resolve("emulator-chat", USER)
    assert choice.model.id == "emulator-chat:latest"
    assert choice.upstream.kind == "ollama"


async def test_unknown_model_is_404_model_not_found(host):
    with pytest.raises(ModelNotFoundError) as caught:
        await host.resolve("no-such-model", USER)
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"


async def test_a_model_name_naming_a_host_is_just_an_unknown_model(emulator, host):
    # Row 22: the outbound host always comes from configuration, never from the model name.
    with pytest.raises(ModelNotFoundError):
        await host.resolve("evil.example.com/emulator-chat", USER)
    hosts = {r.host for r in emulator.stats.recent_requests}
    assert hosts == {f"127.0.0.1:{emulator.port}"}


async def test_allow_list_applies_to_users_not_admins(emulator):
    configure(STRATUS_USER_MODELS="emulator-embed*")
    try:
        host = await get_model_host()
        models = await host.catalog.models(host.http)
        assert [m.id for m in host.catalog.visible(models, USER)] == ["emulator-embed:latest"]
        assert len(host.catalog.visible(models, ADMIN)) == len(models) > 1
        with pytest.raises(ModelNotFoundError):
            await host.resolve("emulator-chat", USER)
        assert (await host.resolve("emulator-chat", ADMIN)).model.id == "emulator-chat:latest"
    finally:
        await close_model_host()


async def test_a_host_that_is_down_drops_out_of_the_list(emulator):
    configure(OLLAMA_BASE_URLS=f"http://127.0.0.1:9;{emulator.base_url}")
    try:
        host = await get_model_host()
        models = await host.catalog.models(host.http)
        assert "emulator-chat:latest" in {m.id for m in models}
        choice = await host.resolve("emulator-chat", USER)
        assert choice.upstream.base_url == emulator.base_url
    finally:
        await close_model_host()


async def test_openai_compatible_upstreams_join_the_catalog(emulator):
    configure(
        ENABLE_OLLAMA_API="false",
        OPENAI_API_BASE_URL=emulator.base_url + "/v1",
        OPENAI_API_KEY="sk-upstream",
    )
    try:
        host = await get_model_host()
        choice = await host.resolve("emulator-chat:latest", USER)
        assert choice.upstream.kind == "openai"
        assert emulator.stats.last_request.has_authorization is True
    finally:
        await close_model_host()


async def test_embeddings_are_one_batched_call(emulator, host):
    choice = await host.resolve("emulator-embed", USER)
    before = emulator.stats.requests("POST /api/embed")
    result = await host.embed(choice, ["one", "two", "three"])
    assert len(result.vectors) == 3
    assert emulator.stats.requests("POST /api/embed") == before + 1


async def test_upstream_5xx_is_a_503_without_the_upstream_url(emulator, host):
    choice = await host.resolve("emulator-embed", USER)
    emulator.set_faults(fail_status=503)
    with pytest.raises(ModelHostUnavailableError) as caught:
        await host.embed(choice, ["x"])
    assert emulator.base_url not in caught.value.message


@pytest.mark.parametrize("expose", [False, True])
async def test_unreachable_host_names_the_url_only_when_allowed(env, expose):
    configure(
        OLLAMA_BASE_URL="http://127.0.0.1:9",
        STRATUS_EXPOSE_UPSTREAM_URLS="true" if expose else "false",
    )
    try:
        with pytest.raises(ModelHostUnavailableError) as caught:
            await (await get_model_host()).version()
    finally:
        await close_model_host()
    error = caught.value
    assert error.status_code == 503
    assert ("http://127.0.0.1:9" in error.message) is expose
    assert "OLLAMA_BASE_URL" in error.message or expose
    # It claims only what works without a model host in this version.
    assert "Sign-in, accounts and saved chats still work" in error.message
    assert "files" not in error.message.lower()
