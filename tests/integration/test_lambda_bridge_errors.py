"""The local Lambda mode answers in JSON even when a function fails, as API Gateway does."""

from __future__ import annotations

import httpx

from local.lambda_bridge import create_lambda_mode_app
from tests.support.auth import apply_env
from tests.support.live_server import live_server


def test_a_failing_function_gets_api_gateways_json_500(auth_env):
    # GIVEN a signing secret the auth function refuses at its cold start
    apply_env({"WEBUI_SECRET_KEY": "t0p-s3cr3t", "STRATUS_DEV_MODE": "false"})
    bridge = create_lambda_mode_app()
    try:
        with live_server(bridge) as server:
            # WHEN a request reaches that function
            response = httpx.get(server.base_url + "/api/v1/auths/")
    finally:
        bridge.shutdown()
    # THEN the answer is API Gateway's, in JSON, without the reason
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"message": "Internal Server Error"}
    assert "t0p-s3cr3t" not in response.text
    assert "WEBUI_SECRET_KEY" not in response.text
