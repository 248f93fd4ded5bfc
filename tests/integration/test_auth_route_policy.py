"""Every route of the composed app declares a policy, and the guard enforces it.

Adding a route means adding it to ``POLICY`` below: a route missing from the table, or a table
entry whose route is gone, fails the walk. Litestar's automatic OPTIONS handlers are public by
rule (they answer with an ``Allow`` header only) and are checked separately.
"""

from __future__ import annotations

import re

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from local.composed import create_local_app
from stratus.auth.guard import is_automatic_options, policy_for
from stratus.web.plugin import StratusPlugin
from tests.support.auth import admin_and_user, signup

pytestmark = pytest.mark.anyio

DOCS = ["/docs", "/docs/openapi.json", "/docs/swagger", "/docs/{path:str}"]
DOCS += ["/docs/static/{name:str}"]
# The web client's page and files (local.webclient).
WEB = ["/", "/assets/{build:str}/{path:path}"]

# (path, method) -> (level, pending allowed, session only)
POLICY: dict[tuple[str, str], tuple[str, bool, bool]] = {
    ("/healthz", "GET"): ("public", False, False),
    ("/readyz", "GET"): ("public", False, False),
    # Monitors probe with HEAD.
    ("/", "HEAD"): ("public", False, False),
    ("/healthz", "HEAD"): ("public", False, False),
    ("/readyz", "HEAD"): ("public", False, False),
    **{(path, "GET"): ("public", False, False) for path in DOCS},
    **{(path, "GET"): ("public", False, False) for path in WEB},
    ("/api/v1/auths/signup", "POST"): ("public", False, False),
    ("/api/v1/auths/signin", "POST"): ("public", False, False),
    ("/api/v1/auths/signout", "POST"): ("user", True, True),
    ("/api/v1/auths", "GET"): ("user", True, False),
    ("/api/v1/auths/update/profile", "POST"): ("user", False, False),
    ("/api/v1/auths/update/password", "POST"): ("user", False, True),
    ("/api/v1/auths/api_key", "GET"): ("user", False, False),
    ("/api/v1/auths/api_key", "POST"): ("user", False, True),
    ("/api/v1/auths/api_key", "DELETE"): ("user", False, True),
    ("/api/v1/auths/api_keys", "GET"): ("user", False, False),
    ("/api/v1/auths/api_keys", "POST"): ("user", False, True),
    ("/api/v1/auths/api_keys/{key_id:str}", "DELETE"): ("owner", False, True),
    ("/api/v1/auths/add", "POST"): ("admin", False, False),
    ("/api/v1/users", "GET"): ("admin", False, False),
    ("/api/v1/users/{user_id:str}/update", "POST"): ("admin", False, False),
    ("/api/v1/users/{user_id:str}", "DELETE"): ("admin", False, False),
    ("/api/v1/users/{user_id:str}/sessions/revoke", "POST"): ("admin", False, False),
    ("/api/v1/users/{user_id:str}/unlock", "POST"): ("admin", False, False),
    ("/api/config", "GET"): ("public", False, False),
    ("/api/v1/chats", "GET"): ("user", False, False),
    ("/api/v1/chats/new", "POST"): ("user", False, False),
    ("/api/v1/chats/{chat_id:str}", "GET"): ("owner", False, False),
    ("/api/v1/chats/{chat_id:str}", "POST"): ("owner", False, False),
    ("/api/v1/chats/{chat_id:str}", "DELETE"): ("owner", False, False),
    ("/api/v1/chats/{chat_id:str}/messages/{message_id:str}", "POST"): ("owner", False, False),
    ("/v1/chat/completions", "POST"): ("user", False, False),
    ("/api/chat/completions", "POST"): ("user", False, False),
    ("/v1/models", "GET"): ("user", False, False),
    ("/v1/models/{model_id:path}", "GET"): ("user", False, False),
    ("/api/models", "GET"): ("user", False, False),
    ("/v1/embeddings", "POST"): ("user", False, False),
    ("/api/tasks/stop/{task_id:str}", "POST"): ("owner", False, False),
    ("/api/tasks/chat/{chat_id:str}", "GET"): ("owner", False, False),
    ("/api/v1/chats/{chat_id:str}/stop", "POST"): ("owner", False, False),
    ("/ollama", "GET"): ("user", False, False),
    ("/ollama/api/version", "GET"): ("user", False, False),
    ("/ollama/api/tags", "GET"): ("user", False, False),
    ("/ollama/api/ps", "GET"): ("user", False, False),
    ("/ollama/api/show", "POST"): ("user", False, False),
    ("/ollama/api/chat", "POST"): ("user", False, False),
    ("/ollama/api/generate", "POST"): ("user", False, False),
    ("/ollama/api/embed", "POST"): ("user", False, False),
    ("/ollama/api/embeddings", "POST"): ("user", False, False),
    ("/api/v1/files", "POST"): ("user", False, False),
    ("/api/v1/files", "GET"): ("user", False, False),
    ("/api/v1/files/upload-url", "POST"): ("user", False, False),
    ("/api/v1/files/{file_id:str}", "GET"): ("owner", False, False),
    ("/api/v1/files/{file_id:str}", "DELETE"): ("owner", False, False),
    ("/api/v1/files/{file_id:str}/content", "GET"): ("owner", False, False),
    ("/api/v1/files/{file_id:str}/process/status", "GET"): ("owner", False, False),
    ("/api/v1/knowledge/create", "POST"): ("user", False, False),
    ("/api/v1/knowledge", "GET"): ("user", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}", "GET"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}", "POST"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}/update", "POST"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}", "DELETE"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}/delete", "DELETE"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}/file/add", "POST"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}/files/batch/add", "POST"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}/files", "GET"): ("owner", False, False),
    ("/api/v1/knowledge/{knowledge_id:str}/file/remove", "POST"): ("owner", False, False),
    ("/api/v1/retrieval/query/doc", "POST"): ("owner", False, False),
    ("/api/v1/retrieval/query/collection", "POST"): ("owner", False, False),
    ("/api/v1/retrieval/process/file", "POST"): ("owner", False, False),
}


def _walk(app: Litestar):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                yield route.path, method, handler


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0b8f2a4e-6c1d-4e5f-9a7b-3c2d1e0f9a8b", path)


def test_every_route_is_in_the_policy_table_with_its_declared_policy():
    seen: dict[tuple[str, str], tuple[str, bool, bool]] = {}
    for path, method, handler in _walk(create_local_app()):
        if is_automatic_options(handler):
            continue
        policy = policy_for(handler)
        assert policy.level is not None, f"{method} {path} declares no access policy"
        seen[(path, method)] = (policy.level.value, policy.allow_pending, policy.session_only)
    assert seen == POLICY


async def test_every_non_public_route_answers_401_without_credentials(auth_client):
    checked = 0
    for (path, method), (level, _, _) in POLICY.items():
        if level == "public":
            continue
        response = await auth_client.request(method, _concrete(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        checked += 1
    assert checked == sum(level != "public" for level, _, _ in POLICY.values())


async def test_automatic_options_answers_are_public_and_carry_no_data(auth_client):
    checked = set()
    for path, method, handler in _walk(create_local_app()):
        if not is_automatic_options(handler):
            continue
        response = await auth_client.request(method, _concrete(path))
        assert response.status_code == 204, path
        assert response.content == b""
        assert "allow" in response.headers
        checked.add(path)
    # Every routed path has one, so the loop above cannot pass by finding none.
    assert checked >= {path for path, _ in POLICY}


async def test_a_pending_user_is_refused_everywhere_but_whoami_and_signout(auth_client):
    await signup(auth_client)  # the admin
    pending = await signup(auth_client)
    assert pending.role == "pending"
    results = {}
    for (path, method), (level, allow_pending, _) in POLICY.items():
        if level == "public" or path.endswith("/signout"):
            continue
        response = await auth_client.request(
            method, _concrete(path), json={}, headers=pending.headers
        )
        results[(path, method)] = response.status_code
        expected = 200 if allow_pending else 403
        assert response.status_code == expected, (method, path, response.text)
    assert results[("/api/v1/auths", "GET")] == 200
    signout = await auth_client.post("/api/v1/auths/signout", headers=pending.headers)
    assert signout.status_code == 200


async def test_a_route_without_a_policy_fails_closed(auth_client):
    admin, _ = await admin_and_user(auth_client)

    @get("/forgotten", sync_to_thread=False)
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    app = Litestar([forgotten], plugins=[StratusPlugin(service="test", readiness=())])
    async with AsyncTestClient(app) as client:
        anonymous = await client.get("/forgotten")
        as_admin = await client.get("/forgotten", headers=admin.headers)
    assert anonymous.status_code == 401
    assert as_admin.status_code == 403
    assert "data" not in anonymous.text + as_admin.text
