"""Build API Gateway HTTP API (payload v2) events from ASGI requests, and ASGI replies from results.

This is what API Gateway does in front of a Mangum function, so the local Lambda mode runs the
very handler code that runs in AWS.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from litestar.types import HTTPScope, Send

_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded")


def http_api_event(scope: HTTPScope, body: bytes, source_ip: str) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for raw_key, raw_value in scope["headers"]:
        key, value = raw_key.decode("latin-1").lower(), raw_value.decode("latin-1")
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query = scope.get("query_string", b"").decode("latin-1")
    event_body, is_base64 = _event_body(body, headers.get("content-type", ""))
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": scope["path"],
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": scope["method"],
                "path": scope["path"],
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": event_body,
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    return event


def _event_body(body: bytes, content_type: str) -> tuple[str, bool]:
    """Text bodies go as text; anything else, and "text" that is not UTF-8, goes base64-encoded,
    so every byte reaches the function and the function decides what to refuse."""
    if not body:
        return "", False
    if content_type.lower().startswith(_TEXT_TYPES):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


async def send_result(result: dict[str, Any], send: Send) -> None:
    raw_body = result.get("body") or ""
    body = base64.b64decode(raw_body) if result.get("isBase64Encoded") else raw_body.encode("utf-8")
    headers = [(k.lower().encode(), str(v).encode()) for k, v in result.get("headers", {}).items()]
    for key, values in result.get("multiValueHeaders", {}).items():
        headers.extend((key.lower().encode(), str(v).encode()) for v in values)
    headers.extend((b"set-cookie", cookie.encode()) for cookie in result.get("cookies", []))
    await send({"type": "http.response.start", "status": result["statusCode"], "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
