"""A model host's JSON answer that the gateway cannot decode is a 502-class ``UpstreamError``,
never a 500: neither text that is not JSON nor JSON nested past what a decoder follows (a
``RecursionError`` inside msgspec). A real HTTP server on loopback plays the host."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from stratus.errors import UpstreamError
from stratus.modelhost.http import UpstreamHTTP
from stratus.modelhost.upstreams import Upstream
from stratus.settings import ModelHostSettings

pytestmark = pytest.mark.anyio

ANSWERS = {
    "/plain": b'{"models": []}',
    "/html": b"<html>502</html>",
    "/nested": b'{"models": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.fixture
async def host() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=ANSWERS[request.path], content_type="application/json")

    app = web.Application()
    app.router.add_get("/{name}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _get(base_url: str, path: str) -> object:
    settings = ModelHostSettings.from_env({"OLLAMA_BASE_URL": base_url})
    async with aiohttp.ClientSession() as session:
        http = UpstreamHTTP(session, settings)
        return await http.json(Upstream(kind="ollama", base_url=base_url), "GET", path)


async def test_a_json_answer_is_decoded(host: str):
    assert await _get(host, "/plain") == {"models": []}


@pytest.mark.parametrize("path", ["/html", "/nested"])
async def test_an_answer_that_cannot_be_decoded_is_an_upstream_error(host: str, path: str):
    with pytest.raises(UpstreamError) as caught:
        await _get(host, path)
    assert caught.value.message == "The model host sent a response that is not JSON."
