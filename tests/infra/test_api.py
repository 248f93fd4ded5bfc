"""The REST API: chat's routes (and only chat's) on the response-streaming integration, auth
and rag on the Lambda proxy integration, and routing that matches the local stack's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.cdk import profiles
from infra.cdk.routes import GREEDY, route_table
from local import routing
from local.routing import MANGUM_FUNCTION_PREFIXES, function_for
from stratus.openapi import __file__ as openapi_package
from tests.infra.helpers import (
    Template,
    integrated_function,
    joined,
    methods_by_path,
    resources,
)

STREAMING_URI = "/2021-11-15/functions/"
STREAMING_SUFFIX = "/response-streaming-invocations"
PROXY_URI = "/2015-03-31/functions/"
PROXY_SUFFIX = "/invocations"


def _integration(method: dict[str, Any]) -> dict[str, Any]:
    integration: dict[str, Any] = method["Properties"]["Integration"]
    return integration


def test_every_chat_route_streams_and_no_other_route_does(template: Template) -> None:
    methods = methods_by_path(template)
    streamed = []
    for route, method in methods.items():
        function = integrated_function(template, method)
        integration = _integration(method)
        uri = joined(integration["Uri"])
        assert integration["Type"] == "AWS_PROXY", route
        assert integration["IntegrationHttpMethod"] == "POST", route
        if function == "chat":
            # CloudFormation's property and value (SAM's event property would be
            # RESPONSE_STREAM, and ignores STREAM): the streaming invoke API and its URI.
            assert integration["ResponseTransferMode"] == "STREAM", route
            assert STREAMING_URI in uri, (route, uri)
            assert uri.endswith(STREAMING_SUFFIX), (route, uri)
            # API Gateway streams for up to 15 minutes; a buffered integration stops at 29 s.
            assert integration["TimeoutInMillis"] == profiles.STREAMED_INTEGRATION_SECONDS * 1000
            streamed.append(route)
        else:
            assert function in {"auth", "rag"}, route
            assert integration.get("ResponseTransferMode", "BUFFERED") == "BUFFERED", route
            assert PROXY_URI in uri, (route, uri)
            assert uri.endswith(PROXY_SUFFIX), (route, uri)
            assert "TimeoutInMillis" not in integration  # the default: 29 s
    chat_routes = {f"ANY {r.path}" for r in route_table() if r.function == "chat"}
    assert sorted(streamed) == sorted(chat_routes)
    assert "ANY /" in streamed
    assert f"ANY /{GREEDY}" in streamed


def _route(template: Template, path: str) -> str | None:
    """The function API Gateway sends ``path`` to: a static resource matching the next segment
    wins, otherwise the greedy {proxy+} child takes the rest; then the resource's ANY method."""
    methods = methods_by_path(template)
    segments = [s for s in path.split("/") if s]
    current = "/"
    for index, segment in enumerate(segments):
        static = current.rstrip("/") + "/" + segment
        if f"ANY {static}" in methods:
            current = static
            continue
        greedy = current.rstrip("/") + "/" + GREEDY
        if f"ANY {greedy}" in methods:
            return integrated_function(template, methods[f"ANY {greedy}"])
        raise AssertionError(f"no route for {path} at segment {index}")
    return integrated_function(template, methods[f"ANY {current}"])


def _paths_to_check() -> list[str]:
    document = json.loads(Path(openapi_package).with_name("openapi.json").read_text())
    paths = [p.replace("{", "").replace("}", "") for p in document["paths"]]
    for prefixes in MANGUM_FUNCTION_PREFIXES.values():
        for prefix in prefixes:
            paths += [prefix, prefix + "/", prefix + "/x", prefix + "/x/y/z", prefix + "x"]
            paths.append(prefix.rsplit("/", 1)[0] + "/other")
    paths += [
        "/",
        "/api",
        "/api/v1",
        "/api/v1/chats/abc",
        "/api/chat/completions",
        "/api/models",
        "/v1/chat/completions",
        "/v1/models",
        "/ollama/api/tags",
        "/healthz",
        "/readyz",
        "/docs/openapi.json",
        "/api/v1/authsx/signin",
    ]
    return sorted(set(paths))


def test_routes_match_the_local_route_table(template: Template) -> None:
    checked = _paths_to_check()
    seen = set()
    for path in checked:
        cloud = _route(template, path)
        assert cloud == function_for(path), path
        seen.add(cloud)
    # The comparison covered every function, so it could have told them apart.
    assert seen == {"auth", "chat", "rag"}


def test_route_table_follows_local_routing(monkeypatch: pytest.MonkeyPatch) -> None:
    routes = {r.path: r.function for r in route_table()}
    for function, prefixes in MANGUM_FUNCTION_PREFIXES.items():
        for prefix in prefixes:
            assert routes[prefix] == function
            assert routes[f"{prefix}/{GREEDY}"] == function
    assert routes["/"] == routes[f"/{GREEDY}"] == "chat"
    # With another table, other resources: the tree is derived, not written by hand.
    monkeypatch.setattr(
        routing, "MANGUM_FUNCTION_PREFIXES", {"auth": ("/auth",), "rag": ("/x/rag",)}
    )
    other = {r.path: r.function for r in route_table()}
    assert other == {
        "/": "chat",
        f"/{GREEDY}": "chat",
        "/auth": "auth",
        f"/auth/{GREEDY}": "auth",
        "/x": "chat",
        f"/x/{GREEDY}": "chat",
        "/x/rag": "rag",
        f"/x/rag/{GREEDY}": "rag",
    }


def test_api_is_regional_and_passes_bodies_through(template: Template) -> None:
    (api,) = resources(template, "AWS::ApiGateway::RestApi").values()
    props = api["Properties"]
    assert props["EndpointConfiguration"]["Types"] == ["REGIONAL"]
    # Every body reaches the function byte for byte, base64-encoded (uploads, images).
    assert props["BinaryMediaTypes"] == ["*/*"]
    # Compression would hold back a streamed response until it is complete.
    assert "MinimumCompressionSize" not in props


def test_throttling_is_set_for_the_stage_and_tighter_for_auth(template: Template) -> None:
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    settings = {
        (s["ResourcePath"], s["HttpMethod"]): s for s in stage["Properties"]["MethodSettings"]
    }
    everything = settings[("/*", "*")]
    assert everything["ThrottlingRateLimit"] == {"Ref": "ApiRateLimit"}
    assert everything["ThrottlingBurstLimit"] == {"Ref": "ApiBurstLimit"}
    for path in ("/~1api~1v1~1auths", "/~1api~1v1~1auths~1{proxy+}"):
        auth = settings[(path, "*")]
        assert auth["ThrottlingRateLimit"] == {"Ref": "AuthRateLimit"}
        assert auth["ThrottlingBurstLimit"] == {"Ref": "AuthBurstLimit"}
    parameters = template["Parameters"]
    assert parameters["AuthRateLimit"]["Default"] < parameters["ApiRateLimit"]["Default"]
    assert "AccessLogSetting" in stage["Properties"]


def test_payload_limit_leaves_room_for_base64() -> None:
    # A synchronous invocation carries 6 MB of event; a base64 body grows by a third.
    assert profiles.MAX_INLINE_BODY_BYTES * 4 / 3 < profiles.LAMBDA_SYNC_PAYLOAD_BYTES
    assert profiles.MAX_INLINE_BODY_BYTES > 4 * 1024 * 1024
