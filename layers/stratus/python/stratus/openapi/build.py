"""Builds the API's OpenAPI document from an app: Litestar's description, told the truth.

Litestar describes paths, parameters and bodies. What it cannot know comes from each route's
declared access policy and its shape, so a new chat or rag route is described correctly without
anyone listing it here:

- security: none on public routes; bearer (a session token or an API key) or ``x-api-key`` on
  the others; bearer only where API keys are refused (session-only routes);
- errors, each with the body the error mapper really sends (``{"detail"}``, or OpenAI's
  ``{"error": {...}}`` under ``/v1``): 401 and 503 on every protected route, 403 wherever some
  caller can be refused, 404 where a path names something, 400/413/415/422 where a body is
  taken, 422 where parameters are; anything else a route declares with ``may_answer``;
- Litestar's own error entries (a 400 ``{status_code, detail, extra}`` no route sends) go;
- HEAD operations (the health routes) describe statuses and headers only: no body is sent.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from stratus import __version__
from stratus.auth.guard import Policy, policy_for
from stratus.openapi import ERRORS_KEY
from stratus.web.access import Access
from stratus.web.error_mapper import uses_ollama_shape, uses_openai_shape
from stratus.web.json_depth import MAX_JSON_DEPTH

TITLE = "Stratus API"
DESCRIPTION = (
    "Self-hosted LLM chat backend: Open WebUI's and OpenAI's paths and shapes. "
    "Authenticate with `Authorization: Bearer <token or sk- API key>` or `x-api-key: sk-...`. "
    'Errors are `{"detail": "..."}`, and OpenAI\'s `{"error": {...}}` under `/v1`.'
)
BEARER = "bearer"
API_KEY = "apiKey"
SECURITY_SCHEMES: dict[str, Any] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT session token, or an sk- API key",
        "description": "A session token from sign-in, or an API key.",
    },
    API_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "An API key (sk-...).",
    },
}
ERROR_SCHEMA = "Error"
OPENAI_ERROR_SCHEMA = "OpenAIError"
OLLAMA_ERROR_SCHEMA = "OllamaError"
ERROR_SCHEMAS: dict[str, Any] = {
    ERROR_SCHEMA: {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "description": "An error, as every route outside /v1 answers it.",
    },
    OPENAI_ERROR_SCHEMA: {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
                "required": ["message", "type", "param", "code"],
            }
        },
        "required": ["error"],
        "description": "An error, as routes under /v1 answer it (OpenAI's shape).",
    },
    OLLAMA_ERROR_SCHEMA: {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
        "description": "An error, as routes under /ollama answer it (Ollama's shape).",
    },
}
DESCRIPTIONS = {
    400: (
        f"The body is not valid JSON, not UTF-8, or nested more than {MAX_JSON_DEPTH} levels deep."
    ),
    401: "Not authenticated: credentials are missing, invalid, expired or revoked.",
    403: "Refused to this caller (role, pending account, API key on a session-only route).",
    404: "Not found, or not the caller's.",
    409: "Conflicts with what exists.",
    413: "The body is over the size limit.",
    415: "The body is not in a media type this route takes.",
    422: "A field or parameter breaks a rule; the message names it and the rule.",
    429: "Too many attempts; retry after Retry-After seconds.",
    503: "A dependency is unavailable; retry later.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}},
}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def build_document(app: Litestar) -> dict[str, Any]:
    """The whole document for ``app``, as plain JSON-ready data."""
    document: dict[str, Any] = app.openapi_schema.to_schema()
    document["info"] = {"title": TITLE, "version": __version__, "description": DESCRIPTION}
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(ERROR_SCHEMAS)
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, method, handler in described_operations(app):
        operation = document["paths"][path][method]
        _describe(path, operation, handler)
        if method == "head":
            _without_bodies(operation)
    return document


def described_operations(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    """``(path, method, handler)`` for every operation the document describes."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, *_) in route.route_handler_map.items():
            if handler.resolve_include_in_schema():
                found.append((route.path_format or "/", method.lower(), handler))
    return found


def _describe(path: str, operation: dict[str, Any], handler: HTTPRouteHandler) -> None:
    policy = policy_for(handler)
    operation["security"] = _security(policy)
    declared = set(handler.responses or {})
    responses = {
        status: response
        for status, response in operation.get("responses", {}).items()
        if int(status) < 400 or int(status) in declared
    }
    schema = ERROR_SCHEMA
    if uses_openai_shape(path):
        schema = OPENAI_ERROR_SCHEMA
    elif uses_ollama_shape(path):
        schema = OLLAMA_ERROR_SCHEMA
    for status in sorted(_error_statuses(operation, policy, handler) - declared):
        responses[str(status)] = _error_response(status, schema)
    operation["responses"] = dict(sorted(responses.items()))


def _without_bodies(operation: dict[str, Any]) -> None:
    """A HEAD answer is the GET's status and headers; its body is never sent."""
    for response in operation["responses"].values():
        response.pop("content", None)


def _security(policy: Policy) -> list[dict[str, list[str]]]:
    if policy.level is Access.PUBLIC:
        return []
    if policy.session_only:
        return [{BEARER: []}]
    return [{BEARER: []}, {API_KEY: []}]


def _error_statuses(
    operation: dict[str, Any], policy: Policy, handler: HTTPRouteHandler
) -> set[int]:
    statuses = set(handler.opt.get(ERRORS_KEY, ()))
    if policy.level is not Access.PUBLIC:
        # Every protected request reads the live user row, so the database can be missing.
        statuses |= {401, 503}
        if _can_refuse(policy):
            statuses.add(403)
    parameters = operation.get("parameters", [])
    if parameters:
        statuses.add(422)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413, 415, 422}
    return statuses


def _can_refuse(policy: Policy) -> bool:
    """True unless every authenticated caller may use the route (only "who am I" today)."""
    return policy.level in (None, Access.ADMIN) or policy.session_only or not policy.allow_pending


def _error_response(status: int, schema: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "An error."),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def operations_of(document: dict[str, Any]) -> set[tuple[str, str]]:
    """``(path, method)`` for every operation in a document."""
    return {
        (path, method)
        for path, item in document.get("paths", {}).items()
        for method in item
        if method in _METHODS
    }
