"""The committed OpenAPI document tells the truth about the composed app: the same operations,
security from each route's policy, and the error codes and shapes the API really answers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar import Litestar, get, post
from litestar.params import JSONBody
from litestar.routes import HTTPRoute

from local.composed import create_local_app
from local.spec import current_document
from stratus.auth.guard import is_automatic_options, policy_for
from stratus.openapi import document_bytes, document_path, may_answer
from stratus.openapi.build import build_document, operations_of
from stratus.web.access import Access, access
from stratus.web.error_mapper import uses_ollama_shape, uses_openai_shape
from stratus.web.plugin import StratusPlugin
from stratus.web.text import SingleLine

# Not API operations: Litestar's docs router (/docs, /docs/openapi.json, its assets), and the
# web client's page and files (local.webclient), which the document leaves out on purpose.
UNDOCUMENTED_PREFIXES = ("/docs", "/assets/")
UNDOCUMENTED_PATHS = {"/"}


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_local_app()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(document_bytes())
    return loaded


def _undocumented(path: str) -> bool:
    return path in UNDOCUMENTED_PATHS or path.startswith(UNDOCUMENTED_PREFIXES)


def _app_operations(app: Litestar) -> dict[tuple[str, str], Any]:
    """Every (path, method) the app answers, from its route table, not from the document."""
    found = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or _undocumented(route.path):
            continue
        for method, (handler, *_) in route.route_handler_map.items():
            if not is_automatic_options(handler):
                found[(route.path_format, method.lower())] = handler
    return found


def test_committed_document_is_fresh():
    fresh = current_document()
    committed = document_path().read_text(encoding="utf-8")
    if committed != fresh:
        # No diff of two long JSON texts: the fix is always the same.
        pytest.fail("the committed OpenAPI document is stale: run make spec", pytrace=False)


def test_document_is_valid_openapi(document):
    from openapi_spec_validator import validate

    assert document["openapi"].startswith("3.1")
    validate(document)


def test_document_has_every_route_of_the_app_and_nothing_else(app, document):
    from_app = set(_app_operations(app))
    in_document = operations_of(document)
    assert from_app - in_document == set(), "routes missing from the document"
    assert in_document - from_app == set(), "operations the app does not serve"
    assert ("/healthz", "get") in in_document
    assert ("/readyz", "get") in in_document
    assert ("/healthz", "head") in in_document
    assert ("/readyz", "head") in in_document


def test_head_operations_describe_no_body(document):
    for path in ("/healthz", "/readyz"):
        responses = document["paths"][path]["head"]["responses"]
        assert set(responses) == set(document["paths"][path]["get"]["responses"])
        assert all("content" not in response for response in responses.values()), path


def test_document_declares_both_credentials(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header"}
    assert schemes["apiKey"]["name"] == "x-api-key"


def test_security_follows_each_routes_policy(app, document):
    for (path, method), handler in _app_operations(app).items():
        policy = policy_for(handler)
        security = document["paths"][path][method]["security"]
        if policy.level is Access.PUBLIC:
            assert security == [], (path, method)
        elif policy.session_only:
            assert security == [{"bearer": []}], (path, method)
        else:
            assert security == [{"bearer": []}, {"apiKey": []}], (path, method)


def _error_refs(operation: dict[str, Any]) -> dict[str, str]:
    schemas = {
        status: response["content"]["application/json"]["schema"]
        for status, response in operation["responses"].items()
        if int(status) >= 400 and "content" in response  # HEAD answers have no body
    }
    return {status: schema["$ref"] for status, schema in schemas.items() if "$ref" in schema}


def test_errors_are_documented_where_they_can_happen(app, document):
    for (path, method), handler in _app_operations(app).items():
        operation = document["paths"][path][method]
        statuses = set(operation["responses"])
        public = policy_for(handler).level is Access.PUBLIC
        if not public:
            assert {"401", "503"} <= statuses, (path, method)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= statuses, (path, method)
        if "{" in path:
            assert {"404", "422"} <= statuses, (path, method)
        shape = "Error"
        if uses_openai_shape(path):
            shape = "OpenAIError"
        elif uses_ollama_shape(path):
            shape = "OllamaError"
        for status, ref in _error_refs(operation).items():
            assert ref == f"#/components/schemas/{shape}", (path, method, status)


def test_route_specific_codes_come_from_the_routes(document):
    paths = document["paths"]
    assert {"401", "429"} <= set(paths["/api/v1/auths/signin"]["post"]["responses"])
    assert {"403", "409", "429"} <= set(paths["/api/v1/auths/signup"]["post"]["responses"])
    assert "409" in paths["/api/v1/users/{user_id}/update"]["post"]["responses"]
    # "Who am I" is open to every account, pending ones too: it cannot answer 403.
    assert "403" not in paths["/api/v1/auths"]["get"]["responses"]
    # Only the readiness report itself describes /readyz's 503.
    ready = paths["/readyz"]["get"]["responses"]["503"]["content"]["application/json"]
    assert "$ref" not in ready["schema"]


def test_error_bodies_are_the_real_shapes(document):
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["detail"]
    error = schemas["OpenAIError"]["properties"]["error"]
    assert error["required"] == ["message", "type", "param", "code"]
    assert schemas["OllamaError"]["properties"]["error"] == {"type": "string"}
    # Litestar's own {status_code, detail, extra} shape is documented nowhere.
    assert "status_code" not in json.dumps(document["paths"])
    assert "Validation Exception" not in json.dumps(document)


def test_text_rules_appear_in_the_document(document):
    signup = document["components"]["schemas"]["SignupForm"]["properties"]
    assert "\\x00" in signup["name"]["pattern"]
    assert "\\u202e" in signup["name"]["pattern"]


@post("/v1/things", opt={**access(Access.USER), **may_answer(409)}, sync_to_thread=False)
def v1_things(data: JSONBody[dict[str, SingleLine]]) -> dict[str, str]:
    return data


@get("/api/open", opt=access(Access.PUBLIC), sync_to_thread=False)
def open_route() -> str:
    return "ok"


def test_a_new_route_is_described_from_its_policy_alone():
    # GIVEN a route the builder has never heard of (as chat's will be), under /v1
    document = build_document(
        Litestar([v1_things, open_route], plugins=[StratusPlugin(service="t", readiness=())])
    )
    operation = document["paths"]["/v1/things"]["post"]
    # THEN it gets security, the errors its shape implies, its declared 409, OpenAI's shape
    assert operation["security"] == [{"bearer": []}, {"apiKey": []}]
    statuses = set(operation["responses"])
    assert {"400", "401", "403", "409", "413", "415", "422", "503"} <= statuses
    assert set(_error_refs(operation).values()) == {"#/components/schemas/OpenAIError"}
    opened = document["paths"]["/api/open"]["get"]
    assert opened["security"] == []
    assert set(opened["responses"]) == {"200"}
