"""The local Lambda mode answers like the in-process app, but really goes through Mangum."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app as create_auth_app
from functions.rag.app import create_app as create_rag_app
from local.composed import create_local_app
from local.lambda_bridge import LambdaBridge, create_lambda_mode_app
from local.routing import MANGUM_FUNCTION_PREFIXES, function_for

pytestmark = pytest.mark.anyio

# (method, path, body): requests that go to the Mangum functions in Lambda mode.
REQUESTS = [
    ("GET", "/api/v1/auths/no-such-route", None),
    ("GET", "/api/v1/users/no-such-route", None),
    ("GET", "/api/v1/files/no-such-route", None),
    ("POST", "/api/v1/knowledge/no-such-route", {"name": "x"}),
]


@pytest.fixture
async def bridge(auth_env) -> AsyncIterator[LambdaBridge]:
    app = create_lambda_mode_app()
    try:
        yield app
    finally:
        app.shutdown()


def _comparable(response) -> tuple[int, str, object]:
    return response.status_code, response.headers["content-type"], response.json()


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
async def test_lambda_mode_matches_in_process_app(bridge, method, path, body):
    async with (
        AsyncTestClient(create_local_app()) as direct,
        AsyncTestClient(bridge) as via_lambda,
    ):
        expected = await direct.request(method, path, json=body)
        got = await via_lambda.request(method, path, json=body)

    assert _comparable(got) == _comparable(expected)
    environment = bridge.environments[function_for(path)]
    assert environment.invocations == 1


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


@pytest.mark.parametrize(
    ("function", "create_app"), [("auth", create_auth_app), ("rag", create_rag_app)]
)
def test_every_mangum_route_is_routed_to_its_function(env, function, create_app):
    # The routing table is what API Gateway will be configured with: it must cover every route.
    paths = [route.path for route in create_app().routes]
    own = [p for p in paths if p not in {"/healthz", "/readyz"} and not p.startswith("/docs")]
    for path in own:
        assert function_for(path) == function, f"{path} is not routed to {function}"
    assert MANGUM_FUNCTION_PREFIXES[function]


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
    assert _comparable(me_via_lambda) == _comparable(me_direct)
    assert me_via_lambda.json()["email"] == "ada@example.com"
    assert signout.status_code == 200
    assert after_signout.status_code == 401
    assert bridge.environments["auth"].invocations == 4
