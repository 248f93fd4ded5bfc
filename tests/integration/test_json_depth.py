"""JSON nested thousands deep is a 400 with a JSON body on every JSON route (matrix row 35).

msgspec gives up at about a thousand levels with ``RecursionError``, which was a 500 and a full
traceback in the log for every such request, sign-in without an account included. The routes come
from each app's own route table (every route whose body is JSON), in each function and in the
composed local app, so a route added later is covered without listing it here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app as create_auth_app
from functions.chat.app import create_app as create_chat_app
from functions.rag.app import create_app as create_rag_app
from local.composed import create_local_app
from stratus.web.body import JSON, declared_media_types
from stratus.web.error_mapper import uses_ollama_shape, uses_openai_shape
from stratus.web.json_depth import MAX_JSON_DEPTH
from tests.support.auth import Account, apply_env, signup
from tests.support.log_capture import CapturingHandler

pytestmark = pytest.mark.anyio

APPS: dict[str, Callable[[], Litestar]] = {
    "auth": create_auth_app,
    "chat": create_chat_app,
    "rag": create_rag_app,
    "local": create_local_app,
}
DEEP = 5_000
TOO_DEEP = "The JSON body is nested too deeply (more than 64 levels)."
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")


def json_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, path) of every route that takes a JSON body; path parameters filled in."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if JSON not in declared_media_types(handler):
                continue
            path = _PATH_PARAMETER.sub("no-such-id", route.path)
            found.extend((method, path) for method in sorted(handler.http_methods))
    return found


def nested(depth: int) -> bytes:
    """An object whose one field holds arrays down to ``depth`` levels in all."""
    return b'{"model": "emulator-chat", "deep": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def message(path: str, body: Any) -> str:
    if uses_openai_shape(path):
        return str(body["error"]["message"])
    if uses_ollama_shape(path):
        return str(body["error"])
    return str(body["detail"])


@contextmanager
def captured_logs() -> Iterator[CapturingHandler]:
    import logging

    handler = CapturingHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def admin(auth_env, emulator) -> AsyncIterator[Account]:
    """An administrator, so that every route gets past the access guard to its body."""
    apply_env({"OLLAMA_BASE_URL": emulator.base_url})
    async with AsyncTestClient(create_local_app()) as client:
        yield await signup(client, name="Admin")


def test_the_walk_finds_every_json_route():
    # A vacuous walk must not pass quietly: each function has JSON routes, and the local app all.
    routes = {name: json_routes(create()) for name, create in APPS.items()}
    assert ("POST", "/api/v1/auths/signin") in routes["auth"]
    assert ("POST", "/v1/chat/completions") in routes["chat"]
    assert ("POST", "/ollama/api/embed") in routes["chat"]
    assert ("POST", "/api/v1/knowledge/create") in routes["rag"]
    functions = routes["auth"] + routes["chat"] + routes["rag"]
    assert sorted(routes["local"]) == sorted(functions)
    assert len(functions) >= 25


@pytest.mark.parametrize("app_name", APPS)
async def test_json_nested_thousands_deep_is_a_400_on_every_json_route(app_name, admin):
    app = APPS[app_name]()
    routes = json_routes(app)
    async with AsyncTestClient(app) as client:
        for method, path in routes:
            with captured_logs() as logs:
                response = await client.request(
                    method,
                    path,
                    content=nested(DEEP),
                    headers={**admin.headers, "content-type": "application/json"},
                )
            where = f"{app_name}: {method} {path}"
            assert response.status_code == 400, (where, response.text)
            assert response.headers["content-type"].startswith("application/json"), where
            assert message(path, response.json()) == TOO_DEEP, where
            records = logs.snapshot()
            warnings = [r for r in records if "request JSON nested too deeply" in r]
            assert len(warnings) == 1, (where, records)
            assert '"levelname": "WARNING"' in warnings[0], warnings[0]
            assert not [r for r in records if "Traceback" in r or "RecursionError" in r], where


async def test_sign_in_without_an_account_is_a_400_too(auth_env):
    # No credentials at all: the public route still refuses the body before decoding it.
    async with AsyncTestClient(create_auth_app()) as client:
        response = await client.post(
            "/api/v1/auths/signin",
            content=b'{"email": "a@example.test", "password": ' + b"[" * DEEP + b"]" * DEEP + b"}",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": TOO_DEEP}


async def test_the_deepest_allowed_json_is_never_a_server_error(admin):
    # The limit is one every decoder, walker and store behind it manages: at exactly the limit,
    # each route answers as it would any other body (a 2xx or a 4xx naming a field).
    app = create_local_app()
    async with AsyncTestClient(app) as client:
        for method, path in json_routes(app):
            response = await client.request(
                method,
                path,
                content=nested(MAX_JSON_DEPTH),
                headers={**admin.headers, "content-type": "application/json"},
            )
            assert response.status_code < 500, (method, path, response.text)
            if response.status_code == 400:
                assert message(path, response.json()) != TOO_DEEP, (method, path)


async def test_deep_json_at_the_limit_reaches_the_model_host_intact(admin, emulator):
    # Past the decoder: a structured-output schema nested to the limit is re-encoded and relayed.
    schema: dict[str, Any] = {"type": "string"}
    for _ in range((MAX_JSON_DEPTH - 2) // 2):
        schema = {"type": "object", "properties": {"a": schema}}
    async with AsyncTestClient(create_local_app()) as client:
        relayed = await client.post(
            "/ollama/api/chat",
            json={
                "model": "emulator-chat",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": False,
                "format": schema,
            },
            headers=admin.headers,
        )
    assert relayed.status_code == 200, relayed.text
    assert emulator.stats.last_body("/api/chat")["format"] == schema
