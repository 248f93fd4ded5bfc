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


def request_context_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        cold_start, _state["cold"] = _state["cold"], False
        scope.setdefault("state", {})["request_id"] = request_id
        logger = get_logger()
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["x-request-id"] = request_id
                logger.info(
                    "request",
                    extra=_access_fields(scope, message["status"], started),
                )
            await send(message)

        with logger.append_context_keys(correlation_id=request_id, cold_start=cold_start):
            await app(scope, receive, send_with_id)

    return middleware


def _access_fields(scope: Scope, status: int, started: float) -> dict[str, Any]:
    return {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": status,
        "ttfb_ms": round((time.perf_counter() - started) * 1000, 2),
    }
