"""Bodies that are not UTF-8 JSON get a 4xx JSON answer in every mode: the composed app, the local
Lambda mode (which used to crash in its own bridge and answer in plain text), and the real Mangum
handlers fed the API Gateway events such a request becomes."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import httpx
import pytest

from tests.handler.lambda_runtime import context_for, fresh_handler_module, load_event, runtime_loop
from tests.support.live_server import served_api

__all__ = ["runtime_loop"]

SIGNIN = "/api/v1/auths/signin"
NOT_UTF8 = b'{"email": "caf\xe9@example.test", "password": "x"}'
GOOD_JSON = b'{"email": "nobody@example.test", "password": "wrong-password"}'


def _detail(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    detail: str = response.json()["detail"]
    return detail


@pytest.fixture(params=["composed", "lambda-mode"])
def server_url(request, auth_env):
    """The same API served in-process and in Lambda mode, each by uvicorn on loopback."""
    with served_api(request.param) as url:
        yield url


def test_invalid_utf8_is_400_json(server_url):
    response = httpx.post(
        server_url + SIGNIN, content=NOT_UTF8, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert _detail(response) == "The request body is not valid UTF-8."


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=x"]
)
def test_other_media_types_are_415_json(server_url, content_type):
    response = httpx.post(
        server_url + SIGNIN, content=GOOD_JSON, headers={"content-type": content_type}
    )
    assert response.status_code == 415, response.text
    assert "application/json" in _detail(response)


def test_json_with_a_charset_is_accepted(server_url):
    response = httpx.post(
        server_url + SIGNIN,
        content=GOOD_JSON,
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert response.status_code == 401, response.text


def _invoke(module: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    result = module.handler(event, context_for("auth"))
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    return result["statusCode"], headers, json.loads(result["body"])


def _signin_event(gateway: str, body: bytes, content_type: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"auth_signin_{gateway}"))
    event["body"] = base64.b64encode(body).decode("ascii")
    event["isBase64Encoded"] = True
    event["headers"]["Content-Type"] = content_type
    if "multiValueHeaders" in event:
        event["multiValueHeaders"]["Content-Type"] = [content_type]
    return event


@pytest.mark.parametrize("gateway", ["http_v2", "rest_v1"])
def test_mangum_handler_answers_invalid_utf8_with_400_json(auth_env, runtime_loop, gateway):
    module = fresh_handler_module("auth")
    for _ in range(2):  # cold, then warm
        status, headers, body = _invoke(
            module, _signin_event(gateway, NOT_UTF8, "application/json")
        )
        assert status == 400, body
        assert headers["content-type"].startswith("application/json")
        assert body == {"detail": "The request body is not valid UTF-8."}


@pytest.mark.parametrize("gateway", ["http_v2", "rest_v1"])
def test_mangum_handler_answers_a_form_post_with_415_json(auth_env, runtime_loop, gateway):
    module = fresh_handler_module("auth")
    form = b"email=a%40example.test&password=x"
    status, headers, body = _invoke(
        module, _signin_event(gateway, form, "application/x-www-form-urlencoded")
    )
    assert status == 415, body
    assert headers["content-type"].startswith("application/json")
    assert "application/json" in body["detail"]
