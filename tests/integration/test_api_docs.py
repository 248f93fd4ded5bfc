"""Every function, in every mode, serves the same whole-API document, and a docs page whose every
asset comes from this server (no CDN: it works offline)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app as create_auth_app
from functions.chat.app import create_app as create_chat_app
from functions.rag.app import create_app as create_rag_app
from local.composed import create_local_app
from local.lambda_bridge import create_lambda_mode_app
from stratus.openapi import document_bytes
from tests.handler.lambda_runtime import context_for, fresh_handler_module, load_event, runtime_loop
from tests.support.app_client import app_client

__all__ = ["runtime_loop"]

pytestmark = pytest.mark.anyio

APPS: dict[str, Callable[[], Any]] = {
    "composed": create_local_app,
    "auth": create_auth_app,
    "chat": create_chat_app,
    "rag": create_rag_app,
    "lambda-mode": create_lambda_mode_app,
}
# One operation of each function's, so a document with "paths": {} cannot pass.
SOME_OPERATIONS = ["/api/v1/auths/signin", "/api/v1/users/{user_id}/update", "/healthz"]


@pytest.fixture(params=sorted(APPS))
async def client(request, env) -> AsyncIterator[AsyncTestClient[Any]]:
    async with app_client(APPS[request.param]) as test_client:
        yield test_client


def _assert_whole_api(raw: bytes) -> None:
    assert raw == document_bytes()
    document = json.loads(raw)
    for path in SOME_OPERATIONS:
        assert path in document["paths"], path


async def test_every_mode_serves_the_whole_api_document(client):
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200
    assert "json" in response.headers["content-type"]
    _assert_whole_api(response.content)


@pytest.mark.parametrize("function", ["auth", "rag"])
def test_mangum_handlers_serve_the_whole_api_document(env, runtime_loop, function):
    event = copy.deepcopy(load_event("http_v2_healthz"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/docs/openapi.json"
    result = fresh_handler_module(function).handler(event, context_for(function))
    assert result["statusCode"] == 200
    body = result["body"]
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    _assert_whole_api(raw)


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


async def test_docs_page_loads_only_local_assets(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = _References()
    parser.feed(page.text)
    assert len(parser.urls) >= 3, parser.urls  # stylesheet, icon, script
    assert "/docs/openapi.json" in page.text
    for forbidden in ("http:", "https:", "//cdn", "jsdelivr", "unpkg"):
        assert forbidden not in page.text
    for url in parser.urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    script = await client.get("/docs/static/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text
    assert script.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("path", ["/docs/nope", "/docs/static/nope.js", "/docs/static/../x"])
async def test_unknown_docs_paths_are_json_404s(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()
