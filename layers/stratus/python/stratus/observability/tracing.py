"""Traces: OpenTelemetry spans around the few steps a person debugging a slow request needs.

``span(name, **attributes)`` wraps a step. With tracing off (the default) it returns one shared
``nullcontext``: a global read and a call, no allocation, nothing imported. ``configure_tracing``
(at init, once) turns it on from the environment, with the OpenTelemetry SDK loaded only then:

- **OTLP over HTTP** when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: the SDK's own exporter, batched, configured by
  the standard ``OTEL_*`` variables (headers, timeout, ``OTEL_SERVICE_NAME``...). The local
  stack and compose (``compose/docker-compose.otel.yaml``) send to a collector this way.
- **X-Ray in Lambda** when the function runs with active tracing (Lambda then sets
  ``AWS_XRAY_DAEMON_ADDRESS``): each finished span goes as one UDP datagram, OTLP-encoded, to
  the X-Ray daemon Lambda runs in the sandbox, the transport AWS's OpenTelemetry Lambda layers
  use. No collector, no network hop out of the sandbox, nothing to flush before it freezes. Its
  spans join Lambda's own trace: their parent is the invocation's X-Ray trace header.

``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keep it off.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.types import Scope

_OFF: AbstractContextManager[None] = nullcontext()
_tracer: list[Any] = []  # the SDK's tracer, once configured
_provider: list[Any] = []
INSTRUMENTATION = "stratus"
XRAY_HEADER = "x-amzn-trace-id"
XRAY_ENVIRONMENT = "_X_AMZN_TRACE_ID"
# The X-Ray daemon's OTLP-over-UDP framing: a protocol line, then "T1S" (sampled traces) and
# the base64 of an OTLP ExportTraceServiceRequest.
UDP_HEADER = b'{"format":"json","version":1}\n'
UDP_SAMPLED = b"T1S"


def enabled() -> bool:
    return bool(_tracer)


def span(name: str, **attributes: str | int | float | bool) -> AbstractContextManager[Any]:
    """A span named ``name`` around a block, or nothing at all when tracing is off."""
    if not _tracer:
        return _OFF
    opened: AbstractContextManager[Any] = _tracer[0].start_as_current_span(
        name, attributes=attributes or None
    )
    return opened


def request_span(scope: Scope) -> AbstractContextManager[Any]:
    """The span of one HTTP request, child of the caller's trace when the request names one
    (X-Ray's header from API Gateway or the Web Adapter, else W3C ``traceparent``)."""
    if not _tracer:
        return _OFF
    return _request_span(scope)


def invocation_span(
    name: str, **attributes: str | int | float | bool
) -> AbstractContextManager[Any]:
    """A span for work outside a request (an S3 event's ingestion), child of the Lambda
    invocation's X-Ray trace when there is one."""
    if not _tracer:
        return _OFF
    opened: AbstractContextManager[Any] = _tracer[0].start_as_current_span(
        name, context=_parent({}), attributes=attributes or None
    )
    return opened


@contextlib.contextmanager
def _request_span(scope: Scope) -> Iterator[Any]:
    from opentelemetry.trace import SpanKind

    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
    parent = _parent(headers)
    method = str(scope.get("method", ""))
    with _tracer[0].start_as_current_span(
        f"{method} {scope.get('path', '')}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": str(scope.get("path", ""))},
    ) as current:
        yield current


def _parent(headers: Mapping[str, str]) -> Any:
    """The trace a request belongs to: its X-Ray header (or, in Lambda, the invocation's), else
    a W3C ``traceparent``; None starts a new trace."""
    xray = headers.get(XRAY_HEADER) or os.environ.get(XRAY_ENVIRONMENT)
    if xray:
        parsed = xray_context(xray)
        if parsed is not None:
            return parsed
    from opentelemetry.propagate import extract

    return extract(headers)


def xray_context(header: str) -> Any:
    """``Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`` as an OpenTelemetry context."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    fields = dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part.strip())
    root, parent = fields.get("Root", ""), fields.get("Parent", "")
    pieces = root.split("-")
    if len(pieces) != 3 or pieces[0] != "1" or len(parent) != 16:
        return None
    try:
        trace_id, span_id = int(pieces[1] + pieces[2], 16), int(parent, 16)
    except ValueError:
        return None
    sampled = fields.get("Sampled") == "1"
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(context))


def configure_tracing(service: str | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on if the environment asks for it (see the module's docstring); True if
    it is on. Called once at init; calling it again changes nothing."""
    from stratus.settings import TracingSettings

    if _tracer:
        return True
    settings = TracingSettings.from_env(os.environ if environ is None else environ)
    if not settings.enabled:
        return False
    otlp, daemon = settings.otlp_endpoint, settings.xray_daemon_address
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": settings.service_name or service or "stratus"})
    processor: SpanProcessor
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=resource)
        processor = BatchSpanProcessor(OTLPSpanExporter())
    else:
        assert daemon is not None
        provider = TracerProvider(resource=resource, id_generator=_xray_ids())
        # One datagram as each span ends: nothing is left waiting when Lambda freezes.
        processor = SimpleSpanProcessor(xray_udp_exporter(daemon))
    provider.add_span_processor(processor)
    # This provider's tracer, not the API's global one: set once per process, it could not be
    # turned off and on again, and nothing else here asks for it.
    _provider.append(provider)
    _tracer.append(provider.get_tracer(INSTRUMENTATION))
    return True


def _xray_ids() -> Any:
    """Trace ids X-Ray accepts: the first 32 bits are the start time in epoch seconds."""
    import random
    import time

    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class XrayIdGenerator(IdGenerator):
        def generate_span_id(self) -> int:
            return random.getrandbits(64)

        def generate_trace_id(self) -> int:
            return (int(time.time()) << 96) | random.getrandbits(96)

    return XrayIdGenerator()


def xray_udp_exporter(address: str) -> Any:
    """Spans to the X-Ray daemon at ``address`` (host:port) over UDP, one OTLP-encoded datagram
    per export. Fire and forget, as UDP is: a lost datagram is a lost span, never a slow call."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    host, _, port = address.rpartition(":")
    target = (host or "127.0.0.1", int(port))

    class XrayUdpExporter(SpanExporter):
        def __init__(self) -> None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            payload = base64.b64encode(encode_spans(spans).SerializeToString())
            try:
                self._socket.sendto(UDP_HEADER + UDP_SAMPLED + payload, target)
            except OSError:
                return SpanExportResult.FAILURE
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            self._socket.close()

    return XrayUdpExporter()


def instrument_botocore(session: Any) -> None:
    """A span around every API call of the clients ``session`` builds (DynamoDB's)."""
    if not _tracer:
        return
    session.register("before-call", _call_started)
    session.register("after-call", _call_ended)
    session.register("after-call-error", _call_ended)


def _call_started(model: Any, context: dict[str, Any], **_: Any) -> None:
    service = model.service_model.service_id.hyphenize()
    opened = _tracer[0].start_as_current_span(
        f"{service}.{model.name}",
        attributes={"rpc.system": "aws-api", "rpc.service": service, "rpc.method": model.name},
    )
    context["stratus.span"] = opened
    opened.__enter__()


def _call_ended(context: dict[str, Any], **kwargs: Any) -> None:
    opened = context.pop("stratus.span", None)
    if opened is not None:
        error = kwargs.get("exception")
        opened.__exit__(type(error) if error else None, error, None)


def flush() -> None:
    """Export what is waiting (the batch exporter's queue)."""
    for provider in _provider:
        provider.force_flush()


def reset_tracing() -> None:
    """Tracing off again, its exporter shut down (tests, and a process that ends)."""
    for provider in _provider:
        provider.shutdown()
    _provider.clear()
    _tracer.clear()
