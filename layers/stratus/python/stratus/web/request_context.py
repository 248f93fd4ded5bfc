"""Per-request correlation id, cold-start flag and one access-log line, as ASGI middleware.

The id comes from a well-formed ``x-request-id`` header, else the API Gateway request id (Mangum
puts the event in the scope; the Lambda Web Adapter sends it as ``x-amzn-request-context``), else a
fresh UUID. It is echoed back as ``x-request-id`` and stamped on every log line of the request.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from stratus.observability import get_logger
from stratus.observability.tracing import request_span

# Letters, digits and the punctuation of UUIDs and API Gateway ids (base64, e.g. "Ab1c=").
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:=+/-]{1,128}$")
_state = {"cold": True}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def request_id_for(scope: Scope) -> str:
    supplied = _header(scope, b"x-request-id")
    if supplied and _SAFE_ID.fullmatch(supplied):
        return supplied
    event = scope.get("aws.event")
    if isinstance(event, dict):
        gateway_id = event.get("requestContext", {}).get("requestId")
        if isinstance(gateway_id, str) and _SAFE_ID.fullmatch(gateway_id):
            return gateway_id
    adapter_context = _header(scope, b"x-amzn-request-context")
    if adapter_context:
        try:
            gateway_id = json.loads(adapter_context).get("requestId")
        except (ValueError, AttributeError):
            gateway_id = None
        if isinstance(gateway_id, str) and _SAFE_ID.fullmatch(gateway_id):
            return gateway_id
    return str(uuid.uuid4())


def _request_state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = request_id_for(scope)
    return state


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    """Stamps the correlation id on every log line written while a route handles the request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        state = _request_state(scope)
        state["started"] = time.perf_counter()
        cold_start, _state["cold"] = _state["cold"], False
        logger = get_logger()
        # Context-variable keys: each request's task sees only its own id, even when requests
        # interleave on one event loop (the formatter's plain keys are shared by all of them).
        logger.thread_safe_append_keys(correlation_id=state["request_id"], cold_start=cold_start)
        try:
            with request_span(scope):
                await app(scope, receive, send)
        finally:
            logger.thread_safe_remove_keys(["correlation_id", "cold_start"])

    return middleware


async def stamp_response(message: Message, scope: Scope) -> None:
    """``before_send`` hook: runs for every response, including the router's own 404 and 405,
    which never reach route middleware. Echoes the id and writes the access-log line."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    state = _request_state(scope)
    MutableScopeHeaders.from_message(message)["x-request-id"] = state["request_id"]
    fields: dict[str, Any] = {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": message["status"],
        "correlation_id": state["request_id"],
    }
    if "started" in state:
        fields["ttfb_ms"] = round((time.perf_counter() - state["started"]) * 1000, 2)
    get_logger().info("request", extra=fields)
