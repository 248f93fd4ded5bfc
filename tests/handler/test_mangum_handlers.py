"""The auth and rag Lambda handlers, driven by recorded API Gateway events, cold then warm."""

from __future__ import annotations

import gc
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from stratus.db.pool import _pool
from stratus.errors import ConfigError
from stratus.modelhost.http import _http as model_host_http
from stratus.settings import reset_settings
from tests.handler.lambda_runtime import context_for, fresh_handler_module, load_event, runtime_loop

__all__ = ["runtime_loop"]

FUNCTIONS = ["auth", "rag"]
GATEWAYS = ["http_v2", "rest_v1"]
# Read from the project file, not from the package the handler reports it from.
PROJECT = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]


def _emf_records(output: str) -> list[dict[str, Any]]:
    records = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


@pytest.mark.parametrize("gateway", GATEWAYS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_healthz_cold_then_warm(env, runtime_loop, capsys, function, gateway):
    module = fresh_handler_module(function)
    event = load_event(f"{gateway}_healthz")

    cold = module.handler(event, context_for(function))
    warm = module.handler(event, context_for(function))

    for result in (cold, warm):
        assert result["statusCode"] == 200
        body = json.loads(result["body"])
        assert body == {"status": "ok", "service": function, "version": PROJECT["version"]}
    # The gateway's request id becomes the correlation id, echoed to the client.
    headers = {k.lower(): v for k, v in cold["headers"].items()}
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    # EMF metrics: each invocation publishes Invocations; only the first publishes ColdStart.
    metrics = _emf_records(capsys.readouterr().out)
    assert ["ColdStart" in record for record in metrics] == [True, False, False]
    assert ["Invocations" in record for record in metrics] == [False, True, True]


@pytest.mark.parametrize("gateway", GATEWAYS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_readyz_reuses_pool_and_clients_on_warm_invocation(env, runtime_loop, function, gateway):
    module = fresh_handler_module(function)
    event = load_event(f"{gateway}_readyz")

    cold = module.handler(event, context_for(function))
    pool_after_cold = _pool.built_for(runtime_loop)
    warm = module.handler(event, context_for(function))

    for result in (cold, warm):
        body = json.loads(result["body"])
        assert result["statusCode"] == 200, body
        assert body["checks"]["postgres"]["status"] == "ok"
    assert pool_after_cold is not None
    assert _pool.built_for(runtime_loop) is pool_after_cold
    assert not pool_after_cold.closed
    if function == "rag":
        # rag probes the model host too: its HTTP client must also survive the warm call.
        client = model_host_http.built_for(runtime_loop)
        assert client is not None
        assert not client.session.closed


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_unknown_route_is_json_404_through_the_gateway(env, runtime_loop, gateway):
    module = fresh_handler_module("auth")
    result = module.handler(load_event(f"{gateway}_not_found"), context_for("auth"))
    assert result["statusCode"] == 404
    assert set(json.loads(result["body"])) == {"detail"}


def test_a_weak_secret_fails_the_rag_cold_start(env, runtime_loop, monkeypatch):
    # Every function verifies tokens through the shared guard, so each refuses a weak secret.
    monkeypatch.setenv("WEBUI_SECRET_KEY", "short")
    monkeypatch.setenv("STRATUS_DEV_MODE", "false")
    reset_settings()
    # The init (importing the handler) fails, before any request.
    with pytest.raises(ConfigError) as raised:
        fresh_handler_module("rag")
    assert "WEBUI_SECRET_KEY" in raised.value.message
    assert "short" not in raised.value.message.replace("shorter", "")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_init_builds_everything_then_freezes_it(env, runtime_loop, function):
    gc.unfreeze()
    fresh_handler_module(function)
    # The pool is built on the loop Mangum will use, not yet connected...
    pool = _pool.built_for(runtime_loop)
    assert pool is not None
    assert pool.closed
    # ...and what init made is out of the garbage collector's way: no request walks it.
    assert gc.get_freeze_count() > 0
