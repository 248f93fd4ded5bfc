"""Traces (stratus.observability.tracing): off by default at no cost; on, the spans a person
debugging a slow chat needs, exported where the environment says.

- OTLP over HTTP, as the local stack and compose's collector receive them: a separate app
  process configured only by the standard ``OTEL_*`` variables sends its spans to an OTLP/HTTP
  receiver on loopback (protobuf, decoded here with OpenTelemetry's own message types).
- X-Ray in Lambda: with ``AWS_XRAY_DAEMON_ADDRESS`` set (active tracing), each span goes as a
  UDP datagram in the daemon's OTLP framing, inside the invocation's X-Ray trace.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from stratus.observability import tracing
from tests.support.app_process import app_process
from tests.support.chat import ChatStack, chat_body, sse_events

# Sampled, as API Gateway passes it to a function with active tracing.
XRAY_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
XRAY_TRACE = bytes.fromhex("5759e988bd862e3fe1be46a994272793")
XRAY_PARENT = bytes.fromhex("53995c3f42cd8ad8")


def _spans(request: ExportTraceServiceRequest) -> list[Any]:
    return [
        span
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on loopback: POST /v1/traces, protobuf."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.services: set[str] = set()
        self.content_types: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    receiver.content_types.add(self.headers["Content-Type"])
                    for resource in request.resource_spans:
                        for attribute in resource.resource.attributes:
                            if attribute.key == "service.name":
                                receiver.services.add(attribute.value.string_value)
                    receiver.spans.extend(_spans(request))
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, names: set[str], timeout: float = 10) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if names <= {span.name for span in self.spans}:
                return list(self.spans)
            time.sleep(0.05)
        raise AssertionError(f"missing spans: {names - {s.name for s in self.spans}}")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiving = OtlpReceiver()
    thread = threading.Thread(target=receiving.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiving
    finally:
        receiving.server.shutdown()
        receiving.server.server_close()


@pytest.mark.anyio
async def test_a_chat_request_exports_its_spans_over_otlp(
    chat_stack: ChatStack, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "stratus-local",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    with app_process(tmp_path, env) as process:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
            response = await http.post(
                "/v1/chat/completions",
                json=chat_body("one two three", chat_id=chat_id, stream=True),
                headers=user.headers,
            )
        assert response.status_code == 200
        assert sse_events(response.text)[-1] == "[DONE]"
        request_name = "POST /v1/chat/completions"
        spans = receiver.wait_for(
            {request_name, "auth", "model.resolve", "upstream.first_byte", "postgres.transaction"}
        )
        spans = receiver.wait_for({s.name for s in spans} | {"dynamodb.UpdateItem"})
    assert receiver.services == {"stratus-local"}
    assert receiver.content_types == {"application/x-protobuf"}
    (request,) = [s for s in spans if s.name == request_name]
    trace = [s for s in spans if s.trace_id == request.trace_id]
    by_id = {s.span_id: s for s in trace}

    def ancestors(span: Any) -> list[str]:
        chain = []
        while span.parent_span_id in by_id:
            span = by_id[span.parent_span_id]
            chain.append(span.name)
        return chain

    # Every step of the request is in its trace, under the request's span.
    for name in ("auth", "model.resolve", "upstream.first_byte", "postgres.transaction"):
        (step,) = [s for s in trace if s.name == name][:1]
        assert ancestors(step)[-1] == request_name, name
    dynamodb = [s for s in trace if s.name.startswith("dynamodb.")]
    assert dynamodb
    assert all(ancestors(s)[-1] == request_name for s in dynamodb)
    # The wait for the model's first output is inside the request, and takes time.
    (first_byte,) = [s for s in trace if s.name == "upstream.first_byte"]
    assert request.start_time_unix_nano <= first_byte.start_time_unix_nano
    assert first_byte.end_time_unix_nano <= request.end_time_unix_nano


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A UDP socket where Lambda's X-Ray daemon would listen."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(5)
    try:
        yield listener
    finally:
        listener.close()
        tracing.reset_tracing()


def _datagram_spans(listener: socket.socket, count: int) -> list[Any]:
    spans: list[Any] = []
    while len(spans) < count:
        data = listener.recv(65535)
        header, _, rest = data.partition(b"\n")
        assert header == b'{"format":"json","version":1}'
        assert rest.startswith(b"T1S")
        spans.extend(_spans(ExportTraceServiceRequest.FromString(base64.b64decode(rest[3:]))))
    return spans


def test_in_lambda_spans_go_to_the_xray_daemon_inside_the_invocations_trace(
    daemon: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, port = daemon.getsockname()
    environ = {"AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}", "POWERTOOLS_SERVICE_NAME": "rag"}
    assert tracing.configure_tracing(environ=environ)
    monkeypatch.setenv(tracing.XRAY_ENVIRONMENT, XRAY_HEADER)
    with tracing.invocation_span("ingest", objects=1), tracing.span("postgres.transaction"):
        pass
    inner, outer = _datagram_spans(daemon, 2)
    assert (outer.name, inner.name) == ("ingest", "postgres.transaction")
    assert outer.trace_id == inner.trace_id == XRAY_TRACE
    assert outer.parent_span_id == XRAY_PARENT
    assert inner.parent_span_id == outer.span_id


def test_a_request_joins_the_trace_its_xray_header_names(daemon: socket.socket) -> None:
    """Chat under the Web Adapter: the invocation's trace comes as the request's header."""
    host, port = daemon.getsockname()
    assert tracing.configure_tracing(environ={"AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}"})
    scope: Any = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "headers": [(b"x-amzn-trace-id", XRAY_HEADER.encode())],
    }
    with tracing.request_span(scope), tracing.span("auth"):
        pass
    auth, request = _datagram_spans(daemon, 2)
    assert request.name == "POST /v1/chat/completions"
    assert request.trace_id == XRAY_TRACE
    assert request.parent_span_id == XRAY_PARENT
    assert auth.parent_span_id == request.span_id


def test_an_unsampled_invocation_sends_nothing(daemon: socket.socket) -> None:
    host, port = daemon.getsockname()
    assert tracing.configure_tracing(environ={"AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}"})
    scope: Any = {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "headers": [(b"x-amzn-trace-id", XRAY_HEADER.replace("Sampled=1", "Sampled=0").encode())],
    }
    with tracing.request_span(scope), tracing.span("auth"):
        pass
    daemon.settimeout(0.3)
    with pytest.raises(TimeoutError):
        daemon.recv(65535)


def test_off_by_default_one_shared_no_op_and_no_sdk_loaded() -> None:
    assert not tracing.enabled()
    assert tracing.span("auth") is tracing.span("model.resolve")
    scope: Any = {"type": "http"}
    assert tracing.request_span(scope) is tracing.span("x")
    for environ in (
        {},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"},
        {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "OTEL_TRACES_EXPORTER": "none"},
    ):
        assert tracing.configure_tracing(environ=environ) is False
        assert not tracing.enabled()
    # A process that never turns it on never imports the SDK.
    script = (
        "import sys; from stratus.observability import tracing;"
        "tracing.configure_tracing(environ={}); tracing.span('auth').__enter__();"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
