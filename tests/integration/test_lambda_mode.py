"""The local Lambda mode answers like the in-process app, but really goes through Mangum."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app as create_auth_app
from functions.rag.app import create_app as create_rag_app
from local.composed import create_local_app
from local.lambda_bridge import LambdaBridge, create_lambda_mode_app
from local.routing import MANGUM_FUNCTION_PREFIXES, function_for
from tests.support.auth import apply_env, reset_auth_state
from tests.support.log_capture import remember

pytestmark = pytest.mark.anyio

SIGNUP = "/api/v1/auths/signup"
SIGNIN = "/api/v1/auths/signin"
ME = "/api/v1/auths/"
KEYS = "/api/v1/auths/api_keys"
USERS = "/api/v1/users/"
MAX_FAILURES = 3


@pytest.fixture
async def bridge(auth_env) -> AsyncIterator[LambdaBridge]:
    app = create_lambda_mode_app()
    try:
        yield app
    finally:
        app.shutdown()


def shape(value: Any) -> Any:
    """Keys and value types, not values: ids, tokens and times differ between two runs."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: Any
    retry_after: bool
    request_id: bool


def _answer(response: Any) -> Answer:
    return Answer(
        response.status_code,
        response.headers.get("content-type", ""),
        shape(response.json()),
        "retry-after" in response.headers,
        bool(response.headers.get("x-request-id")),
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {remember(token)}"}


async def scripted_session(client: AsyncTestClient[Any]) -> list[tuple[str, Answer]]:
    """One user's session, from a fresh install: the answers in order, by step name."""
    steps: list[tuple[str, Answer]] = []

    async def call(step: str, method: str, path: str, **kwargs: Any) -> Any:
        response = await client.request(method, path, **kwargs)
        steps.append((step, _answer(response)))
        return response.json()

    admin = {"name": "Ada", "email": "ada@example.com", "password": remember("ada-password-1")}
    other = {"name": "Bob", "email": "bob@example.com", "password": remember("bob-password-1")}
    await call("sign-up, first account", "POST", SIGNUP, json=admin)
    pending = await call("sign-up, second account", "POST", SIGNUP, json=other)
    session = await call(
        "sign-in", "POST", SIGNIN, json={k: admin[k] for k in ("email", "password")}
    )
    headers = _bearer(session["token"])
    await call("who am I", "GET", ME, headers=headers)
    key = await call("create a key", "POST", KEYS, json={"name": "ci"}, headers=headers)
    await call("list keys", "GET", KEYS, headers=headers)
    await call("who am I, by key", "GET", ME, headers={"x-api-key": remember(key["key"])})
    await call("admin: list users", "GET", USERS, headers=headers)
    await call("no credentials", "GET", ME)
    await call("pending account on an admin route", "GET", USERS, headers=_bearer(pending["token"]))
    await call("sign-up without a password", "POST", SIGNUP, json={"name": "C", "email": "c@x.io"})
    await call("an unknown auth route", "GET", "/api/v1/auths/no-such-route", headers=headers)
    await call("an unknown rag route", "GET", "/api/v1/files/no-such-route", headers=headers)
    wrong = {"email": other["email"], "password": "not-bobs-password"}
    for attempt in range(1, MAX_FAILURES + 2):
        await call(f"wrong password {attempt}", "POST", SIGNIN, json=wrong)
    return steps


_TIMES = {"created_at": "int", "updated_at": "int"}

# What the session must show, so the comparison is between real answers, not two alike errors.
EXPECTED_STATUS = {
    "sign-up, first account": 200,
    "sign-up, second account": 200,
    "sign-in": 200,
    "who am I": 200,
    "create a key": 201,
    "list keys": 200,
    "who am I, by key": 200,
    "admin: list users": 200,
    "no credentials": 401,
    "pending account on an admin route": 403,
    "sign-up without a password": 422,
    "an unknown auth route": 404,
    "an unknown rag route": 404,
    **{f"wrong password {n}": 401 for n in range(1, MAX_FAILURES + 1)},
    f"wrong password {MAX_FAILURES + 1}": 429,
}


async def test_one_scripted_session_answers_alike_in_process_and_in_lambda_mode(auth_env, bridge):
    apply_env({"STRATUS_LOGIN_MAX_FAILURES": str(MAX_FAILURES)})
    # Each mode starts from a fresh install, so the first sign-up is the admin in both.
    reset_auth_state(auth_env["DATABASE_URL"])
    async with AsyncTestClient(create_local_app()) as direct:
        expected = await scripted_session(direct)
    reset_auth_state(auth_env["DATABASE_URL"])
    async with AsyncTestClient(bridge) as via_lambda:
        got = await scripted_session(via_lambda)

    assert {step: answer.status for step, answer in expected} == EXPECTED_STATUS
    for (step, answer), (_, expected_answer) in zip(got, expected, strict=True):
        assert answer == expected_answer, step
    answers = dict(got)
    assert answers["admin: list users"].body == {
        # Both signed up, so both have been active (a session each).
        "users": [
            dict.fromkeys(("id", "email", "name", "role"), "str")
            | _TIMES
            | {"last_active_at": "int"}
        ]
        * 2,
        "total": "int",
        "page": "int",
        "limit": "int",
    }
    assert answers[f"wrong password {MAX_FAILURES + 1}"].retry_after
    # Every request but the rag one went through the auth handler, and none was served in-process.
    assert bridge.environments["auth"].invocations == len(got) - 1
    assert bridge.environments["rag"].invocations == 1


async def test_each_function_keeps_a_warm_environment_between_requests(bridge):
    async with AsyncTestClient(bridge) as client:
        for _ in range(3):
            response = await client.get("/api/v1/auths/no-such-route")
            assert response.status_code == 404
    assert bridge.environments["auth"].invocations == 3
    assert bridge.environments["rag"].invocations == 0


async def test_health_goes_to_chat_as_under_the_web_adapter(bridge):
    async with AsyncTestClient(bridge) as client:
        response = await client.get("/healthz")
    assert response.json()["service"] == "chat"
    assert all(env.invocations == 0 for env in bridge.environments.values())


def _own_paths(create_app: Any) -> list[str]:
    paths = [route.path for route in create_app().routes]
    return [p for p in paths if p not in {"/healthz", "/readyz"} and not p.startswith("/docs")]


def test_every_auth_route_is_routed_to_auth(env):
    # The routing table is what API Gateway will be configured with: it must cover every route.
    own = _own_paths(create_auth_app)
    assert len(own) >= 10, own
    assert [p for p in own if function_for(p) != "auth"] == []


def test_rag_routes_if_any_and_rag_prefixes_are_routed_to_rag(env):
    # Every route rag has is under a prefix API Gateway sends to rag.
    own = _own_paths(create_rag_app)
    assert any(p.startswith("/api/v1/files") for p in own)
    assert [p for p in own if function_for(p) != "rag"] == []
    prefixes = MANGUM_FUNCTION_PREFIXES["rag"]
    assert set(prefixes) == {"/api/v1/files", "/api/v1/knowledge", "/api/v1/retrieval"}
    for prefix in prefixes:
        assert function_for(prefix) == "rag"
        assert function_for(prefix + "/some/id") == "rag"
        # A prefix is a path segment, not a string prefix.
        assert function_for(prefix + "x") == "chat"


async def test_rag_prefixes_reach_the_rag_handler_in_lambda_mode(bridge):
    async with AsyncTestClient(bridge) as client:
        answers = [
            await client.get(prefix + "/anything") for prefix in MANGUM_FUNCTION_PREFIXES["rag"]
        ]
    # Files and knowledge have GET /{id} routes, which want credentials first; retrieval has no
    # GET route at all. Either way the answer came from rag's handler.
    assert [a.status_code for a in answers] == [401, 401, 404]
    assert all(a.json().keys() == {"detail"} for a in answers)
    assert bridge.environments["rag"].invocations == 3
    assert bridge.environments["auth"].invocations == 0


async def test_accounts_work_through_the_lambda_handlers(bridge):
    account = {"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}
    async with (
        AsyncTestClient(bridge) as via_lambda,
        AsyncTestClient(create_local_app()) as direct,
    ):
        signup = await via_lambda.post("/api/v1/auths/signup", json=account)
        signin = await via_lambda.post(
            "/api/v1/auths/signin",
            json={"email": account["email"], "password": "correct horse battery"},
        )
        headers = {"Authorization": f"Bearer {signin.json()['token']}"}
        me_via_lambda = await via_lambda.get("/api/v1/auths/", headers=headers)
        me_direct = await direct.get("/api/v1/auths/", headers=headers)
        signout = await via_lambda.post("/api/v1/auths/signout", headers=headers)
        after_signout = await direct.get("/api/v1/auths/", headers=headers)

    assert signup.status_code == 200, signup.text
    assert signin.status_code == 200, signin.text
    # A token issued by the Lambda handler works in-process, and both answer alike.
    assert _answer(me_via_lambda) == _answer(me_direct)
    assert me_via_lambda.json() == me_direct.json()
    assert me_via_lambda.json()["email"] == "ada@example.com"
    assert signout.status_code == 200
    assert after_signout.status_code == 401
    assert bridge.environments["auth"].invocations == 4
