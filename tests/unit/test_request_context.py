"""Correlation ids, cold-start flag and access-log lines from the request-context middleware."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from stratus.observability import get_logger
from stratus.settings import reset_settings
from stratus.web import request_context
from stratus.web.access import Access, access
from stratus.web.plugin import StratusPlugin
from stratus.web.request_context import request_id_for

pytestmark = pytest.mark.anyio

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class _Capture(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every line the process logger writes, formatted by its own (JSON) formatter."""
    monkeypatch.delenv("STRATUS_HUMAN_LOGS", raising=False)
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    reset_settings()
    logger = get_logger()
    capture = _Capture(logger.registered_formatter)
    logger._logger.addHandler(capture)
    try:
        yield capture.lines
    finally:
        logger._logger.removeHandler(capture)
        reset_settings()


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def _access_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [r for r in _records(lines) if r["message"] == "request"]


def _make_app() -> Litestar:
    @get("/echo", opt=access(Access.PUBLIC))
    async def echo() -> dict[str, str]:
        get_logger().info("inside handler")
        return {"ok": "yes"}

    return Litestar([echo], plugins=[StratusPlugin(service="t", readiness=())])


# --- which id ----------------------------------------------------------------------------------


def _scope(headers: dict[str, str] | None = None, event: Any = None) -> Any:
    scope: dict[str, Any] = {
        "type": "http",
        "headers": [(k.encode(), v.encode("latin-1")) for k, v in (headers or {}).items()],
    }
    if event is not None:
        scope["aws.event"] = event
    return scope


@pytest.mark.parametrize("supplied", ["abc-123", "req_1.2:3", "A" * 128])
def test_well_formed_request_id_is_kept(supplied):
    assert request_id_for(_scope({"x-request-id": supplied})) == supplied


@pytest.mark.parametrize(
    "supplied",
    ["line\nbreak", "evil\r\nSet-Cookie: a=b", "has space", "<script>", "A" * 129, "x" * 200, ""],
    ids=["lf", "crlf", "space", "markup", "129-chars", "200-chars", "empty"],
)
def test_malformed_request_id_is_replaced_by_a_uuid(supplied):
    assert UUID_RE.fullmatch(request_id_for(_scope({"x-request-id": supplied})))


def test_api_gateway_request_id_from_the_event():
    event = {"requestContext": {"requestId": "gw-req-42"}}
    assert request_id_for(_scope(event=event)) == "gw-req-42"
    # a client's well-formed id still wins (it is what the client will search its logs for)
    assert request_id_for(_scope({"x-request-id": "mine"}, event)) == "mine"
    # a malformed client id does not block the gateway's
    assert request_id_for(_scope({"x-request-id": "bad id"}, event)) == "gw-req-42"


def test_web_adapter_request_context_header():
    header = json.dumps({"requestId": "adapter-7", "stage": "$default"})
    assert request_id_for(_scope({"x-amzn-request-context": header})) == "adapter-7"


@pytest.mark.parametrize(
    "header",
    ["{not json", '["requestId"]', '{"requestId": 7}', '{"requestId": "bad id"}', "null"],
)
def test_unusable_web_adapter_context_falls_back_to_a_uuid(header):
    assert UUID_RE.fullmatch(request_id_for(_scope({"x-amzn-request-context": header})))


@pytest.mark.parametrize("event", [None, {"requestContext": {"requestId": "bad\nid"}}, "oops"])
def test_without_any_usable_id_a_fresh_uuid_is_made(event):
    first = request_id_for(_scope(event=event))
    second = request_id_for(_scope(event=event))
    assert UUID_RE.fullmatch(first)
    assert first != second


# --- through the app ---------------------------------------------------------------------------


async def test_well_formed_id_is_echoed_and_logged(log_lines):
    async with AsyncTestClient(_make_app()) as client:
        response = await client.get("/echo", headers={"x-request-id": "client-id-1"})
    assert response.headers["x-request-id"] == "client-id-1"
    records = _records(log_lines)
    assert [r["correlation_id"] for r in records] == ["client-id-1", "client-id-1"]
    assert [r["message"] for r in records] == ["inside handler", "request"]


@pytest.mark.parametrize("supplied", ["x" * 200, "white space", 'quote"d'])
async def test_malformed_id_is_replaced_in_the_response(log_lines, supplied):
    async with AsyncTestClient(_make_app()) as client:
        response = await client.get("/echo", headers={"x-request-id": supplied})
    echoed = response.headers["x-request-id"]
    assert UUID_RE.fullmatch(echoed)
    assert _access_lines(log_lines)[0]["correlation_id"] == echoed


async def test_web_adapter_context_header_sets_the_id(log_lines):
    context = json.dumps({"requestId": "adapter-id-9"})
    async with AsyncTestClient(_make_app()) as client:
        response = await client.get("/echo", headers={"x-amzn-request-context": context})
    assert response.headers["x-request-id"] == "adapter-id-9"
    assert _access_lines(log_lines)[0]["correlation_id"] == "adapter-id-9"


async def test_access_log_line_is_json_with_request_fields(log_lines, monkeypatch):
    # GIVEN a process that has not served a request yet
    monkeypatch.setitem(request_context._state, "cold", True)
    async with AsyncTestClient(_make_app()) as client:
        first = await client.get("/echo")
        second = await client.get("/echo")
    cold, warm = _access_lines(log_lines)
    assert cold["correlation_id"] == first.headers["x-request-id"]
    assert warm["correlation_id"] == second.headers["x-request-id"]
    assert cold["correlation_id"] != warm["correlation_id"]
    assert (cold["cold_start"], warm["cold_start"]) == (True, False)
    assert cold["method"] == "GET"
    assert cold["path"] == "/echo"
    assert cold["status"] == 200
    assert isinstance(cold["ttfb_ms"], float)
    assert cold["level"] == "INFO"


async def test_context_keys_do_not_outlive_the_request(log_lines):
    async with AsyncTestClient(_make_app()) as client:
        await client.get("/echo", headers={"x-request-id": "short-lived"})
    get_logger().info("after the request")
    after = _records(log_lines)[-1]
    assert after["message"] == "after the request"
    assert after.get("correlation_id") is None
    assert "cold_start" not in after


async def test_errors_are_logged_with_the_request_id(log_lines):
    @get("/boom", opt=access(Access.PUBLIC))
    async def boom() -> None:
        raise RuntimeError("kaput")

    app = Litestar([boom], plugins=[StratusPlugin(service="t", readiness=())])
    async with AsyncTestClient(app) as client:
        response = await client.get("/boom", headers={"x-request-id": "boom-1"})
    assert response.status_code == 500
    failure = next(r for r in _records(log_lines) if r["message"] == "request failed")
    assert failure["correlation_id"] == "boom-1"
    assert failure["level"] == "ERROR"
    assert "kaput" in failure["exception"]  # the detail goes to the log, not the client
    assert "kaput" not in response.text


async def test_concurrent_requests_each_log_their_own_id(log_lines):
    # litestar's AsyncTestClient runs each request to completion on a portal thread, so it
    # cannot overlap two requests; httpx's ASGI transport runs them on this event loop.
    arrived: list[str] = []
    both_inside = asyncio.Event()

    @get("/wait/{name:str}", opt=access(Access.PUBLIC))
    async def wait(name: FromPath[str]) -> dict[str, str]:
        arrived.append(name)
        if len(arrived) == 2:
            both_inside.set()
        # Both requests are inside their logging context at once before either logs.
        await asyncio.wait_for(both_inside.wait(), timeout=5)
        get_logger().info("handler", extra={"who": name})
        await asyncio.sleep(0)
        return {"name": name}

    app = Litestar([wait], plugins=[StratusPlugin(service="t", readiness=())])
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        a, b = await asyncio.gather(
            client.get("/wait/a", headers={"x-request-id": "req-a"}),
            client.get("/wait/b", headers={"x-request-id": "req-b"}),
        )
    assert (a.status_code, b.status_code) == (200, 200)
    assert (a.headers["x-request-id"], b.headers["x-request-id"]) == ("req-a", "req-b")
    handler_lines = {r["who"]: r["correlation_id"] for r in _records(log_lines) if "who" in r}
    assert handler_lines == {"a": "req-a", "b": "req-b"}
    access_lines = {r["path"]: r["correlation_id"] for r in _access_lines(log_lines)}
    assert access_lines == {"/wait/a": "req-a", "/wait/b": "req-b"}


def test_api_gateway_event_id_through_mangum(log_lines):
    from mangum import Mangum

    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/echo",
        "rawQueryString": "",
        "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com", "x-request-id": "bad id"},
        "requestContext": {
            "http": {
                "method": "GET",
                "path": "/echo",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "test",
            },
            "requestId": "gwMangumReq1",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    handler = Mangum(cast(Any, _make_app()), lifespan="off")
    # Mangum drives the main thread's event loop itself, as in Lambda.
    response = handler(event, cast(Any, {}))
    assert response["statusCode"] == 200
    assert response["headers"]["x-request-id"] == "gwMangumReq1"
    assert _access_lines(log_lines)[0]["correlation_id"] == "gwMangumReq1"


async def test_unknown_route_still_gets_a_request_id_and_a_log_line(log_lines):
    async with AsyncTestClient(_make_app()) as client:
        response = await client.get("/no/such/route", headers={"x-request-id": "lost-1"})
    assert response.status_code == 404
    assert response.headers.get("x-request-id") == "lost-1"
    assert [r["correlation_id"] for r in _access_lines(log_lines)] == ["lost-1"]


# --- human-readable mode -----------------------------------------------------------------------


@pytest.fixture
def human_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Powertools configures a logger once per service name, so a fresh name gets the human format.
    service = f"stratus-human-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("STRATUS_HUMAN_LOGS", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    reset_settings()
    get_logger.cache_clear()
    try:
        yield service
    finally:
        get_logger.cache_clear()
        logging.getLogger(service).handlers.clear()
        reset_settings()


async def test_human_logs_are_single_readable_lines(human_logger, capsys):
    async with AsyncTestClient(_make_app()) as client:
        response = await client.get("/echo", headers={"x-request-id": "human-1"})
    assert response.status_code == 200
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    handler_line = next(line for line in lines if "inside handler" in line)
    access_line = next(line for line in lines if " request " in line)
    for line in (handler_line, access_line):
        assert "[human-1]" in line
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
    assert "INFO" in access_line
    assert "status=200" in access_line
    assert "path=/echo" in access_line
