"""The auth Lambda handler with recorded API Gateway events: sign-in and a protected route,
each invoked cold and then warm, for HTTP API (v2) and REST API (v1)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from stratus.errors import ConfigError
from stratus.runtime_secrets import reset_runtime_secrets
from tests.handler.lambda_runtime import context_for, fresh_handler_module, load_event, runtime_loop
from tests.support.auth import apply_env
from tests.support.log_capture import remember
from tests.support.services import patched_environ

__all__ = ["runtime_loop"]

GATEWAYS = ["http_v2", "rest_v1"]
PASSWORD = "lambda-user-password-1"


def _invoke(module: Any, event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    result = module.handler(event, context_for("auth"))
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    body = json.loads(result["body"]) if result.get("body") else None
    return result["statusCode"], body, headers


def _with(event: dict[str, Any], **changes: str) -> dict[str, Any]:
    """A copy of a recorded event with its JSON body, path or source IP changed."""
    copied = copy.deepcopy(event)
    context = copied["requestContext"]
    if "body" in changes:
        copied["body"] = changes["body"]
    if "path" in changes:
        path = changes["path"]
        if "rawPath" in copied:
            copied["rawPath"] = context["http"]["path"] = path
        else:
            copied["path"] = path
    if "ip" in changes:
        if "http" in context:
            context["http"]["sourceIp"] = changes["ip"]
        else:
            context["identity"]["sourceIp"] = changes["ip"]
    return copied


def _with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    replaced: dict[str, Any] = json.loads(json.dumps(event).replace("{{token}}", token))
    return replaced


def _signup(gateway: str) -> str:
    """Creates the account the recorded sign-in event uses, through the handler itself."""
    event = load_event(f"auth_signin_{gateway}")
    body = json.loads(event["body"]) | {"name": "Lambda User"}
    status, answer, _ = _invoke(
        fresh_handler_module("auth"),
        _with(event, path="/api/v1/auths/signup", body=json.dumps(body)),
    )
    assert status == 200, answer
    remember(PASSWORD)
    return str(remember(answer["token"]))


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_signin_cold_then_warm(auth_env, runtime_loop, gateway):
    _signup(gateway)
    module = fresh_handler_module("auth")
    event = load_event(f"auth_signin_{gateway}")
    results = [_invoke(module, event) for _ in range(2)]
    for status, body, headers in results:
        assert status == 200, body
        assert body["email"] == "lambda-user@example.test"
        assert body["role"] == "admin"
        assert headers["x-request-id"] == event["requestContext"]["requestId"]
        remember(body["token"])
    # Two sign-ins, two distinct sessions.
    assert results[0][1]["token"] != results[1][1]["token"]


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_protected_route_cold_then_warm(auth_env, runtime_loop, gateway):
    token = _signup(gateway)
    module = fresh_handler_module("auth")
    event = load_event(f"auth_me_{gateway}")
    for _ in range(2):
        status, body, _ = _invoke(module, _with_token(event, token))
        assert status == 200, body
        assert body["email"] == "lambda-user@example.test"
    status, body, headers = _invoke(module, _with_token(event, token + "x"))
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert body == {"detail": "Invalid or expired credentials."}


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_limiter_keys_on_the_gateway_source_ip_not_forwarded_headers(
    auth_env, runtime_loop, gateway
):
    # Even trusting every proxy, Lambda takes the address from API Gateway's request context.
    apply_env({"STRATUS_LOGIN_MAX_FAILURES": "2", "FORWARDED_ALLOW_IPS": "*"})
    _signup(gateway)
    module = fresh_handler_module("auth")
    event = load_event(f"auth_signin_{gateway}")
    wrong = json.dumps({"email": "lambda-user@example.test", "password": "wrong-password"})
    for forged in ("192.0.2.1", "192.0.2.2"):
        failing = _with(event, body=wrong)
        failing["headers"]["x-forwarded-for"] = forged
        assert _invoke(module, failing)[0] == 401
    status, _, headers = _invoke(module, event)
    assert status == 429
    assert int(headers["retry-after"]) >= 1
    assert _invoke(module, _with(event, ip="192.0.2.77"))[0] == 200


CLOUDFRONT_SERVER = "130.176.0.10"  # API Gateway's sourceIp for everything CloudFront sends


def _through_cloudfront(event: dict[str, Any], verify: str, viewer: str) -> dict[str, Any]:
    """The event API Gateway makes of a request CloudFront forwarded: CloudFront's server as
    the source, the viewer address its function set and the origin header it added."""
    copied = _with(event, ip=CLOUDFRONT_SERVER)
    added = {"x-stratus-origin-verify": verify, "x-stratus-viewer-address": viewer}
    copied["headers"].update(added)
    if "multiValueHeaders" in copied:
        copied["multiValueHeaders"].update({k: [v] for k, v in added.items()})
    return copied


@pytest.fixture
def cdn_secret(auth_env, moto) -> Iterator[str]:
    """STRATUS_CDN_ORIGIN_SECRET_ARN naming a secret in moto, as the stack configures auth; in
    Lambda (AWS_LAMBDA_FUNCTION_NAME), where the handler reads it at init."""
    value = "cdn" + uuid.uuid4().hex
    with patched_environ({"AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint}):
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name=f"stratus/cdn-{uuid.uuid4().hex}", SecretString=value)
        client.close()
    apply_env(
        {
            "STRATUS_CDN_ORIGIN_SECRET_ARN": arn["ARN"],
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": "stratus-auth",
            "STRATUS_LOGIN_MAX_FAILURES": "2",
        }
    )
    reset_runtime_secrets()
    yield remember(value)
    reset_runtime_secrets()


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_through_cloudfront_each_viewer_address_has_its_own_limit(
    auth_env, cdn_secret, runtime_loop, gateway
):
    _signup(gateway)
    module = fresh_handler_module("auth")
    event = load_event(f"auth_signin_{gateway}")
    wrong = _with(event, body=json.dumps({"email": "lambda-user@example.test", "password": "x"}))
    for _ in range(2):
        failing = _through_cloudfront(wrong, cdn_secret, "192.0.2.1")
        assert _invoke(module, failing)[0] == 401
    # That viewer is stopped; another one, behind the same CloudFront server, is not.
    assert _invoke(module, _through_cloudfront(event, cdn_secret, "192.0.2.1"))[0] == 429
    assert _invoke(module, _through_cloudfront(event, cdn_secret, "192.0.2.2"))[0] == 200


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_without_cloudfronts_secret_the_viewer_header_picks_no_address(
    auth_env, cdn_secret, runtime_loop, gateway
):
    # A caller of the API's own URL sends the viewer header itself, with a guessed secret.
    _signup(gateway)
    module = fresh_handler_module("auth")
    event = load_event(f"auth_signin_{gateway}")
    wrong = _with(event, body=json.dumps({"email": "lambda-user@example.test", "password": "x"}))
    for viewer in ("192.0.2.1", "192.0.2.2"):
        failing = _through_cloudfront(wrong, cdn_secret + "x", viewer)
        assert _invoke(module, failing)[0] == 401
    # Both failures counted against the gateway's sourceIp, whatever the header said.
    assert _invoke(module, _through_cloudfront(event, "guess", "192.0.2.3"))[0] == 429
    assert _invoke(module, _with(event, ip="192.0.2.77"))[0] == 200


def test_a_weak_secret_fails_the_cold_start(auth_env, runtime_loop):
    apply_env(
        {
            "WEBUI_SECRET_KEY": "t0p-s3cr3t",
            "STRATUS_DEV_MODE": "false",
            "STRATUS_ARGON2_TIME_COST": "3",
            "STRATUS_ARGON2_MEMORY_KIB": "65536",
        }
    )
    # The init (importing the handler) fails, as Lambda reports it, before any request.
    with pytest.raises(ConfigError) as raised:
        fresh_handler_module("auth")
    assert "WEBUI_SECRET_KEY" in str(raised.value)
    assert "t0p-s3cr3t" not in str(raised.value)
