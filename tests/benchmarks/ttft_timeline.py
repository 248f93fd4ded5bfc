"""Where the time to first token goes: the app's own trace spans of turns at concurrency 1.

Two app processes, one against moto and one against the DynamoDB stand-in, export their spans
(``OTEL_EXPORTER_OTLP_ENDPOINT``, as the local stack can) to a receiver in this process. Each
saved turn is one trace; the table gives, for every span, its median start and end in ms after
the request's own span opened. Tracing costs some CPU of its own, so the absolute times here
run a little above the overhead table's; the order and the lengths of the steps are the point.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.benchmarks.stats import median, table

TURNS = int(os.environ.get("BENCH_CHAT_TIMELINE_TURNS", "60"))
ROOT = "POST /v1/chat/completions"
Span = tuple[str, str, str, int, int]  # service, trace id, name, start ns, end ns


@contextmanager
def span_receiver() -> Iterator[tuple[str, list[Span]]]:
    """An OTLP/HTTP traces endpoint on loopback, collecting every span it is sent."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans: list[Span] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
            for resource in request.resource_spans:
                service = next(
                    (
                        a.value.string_value
                        for a in resource.resource.attributes
                        if a.key == "service.name"
                    ),
                    "",
                )
                for scope in resource.scope_spans:
                    spans.extend(
                        (service, s.trace_id.hex(), s.name, s.start_time_unix_nano,
                         s.end_time_unix_nano)
                        for s in scope.spans
                    )  # fmt: skip
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()
        server.server_close()


def offsets(spans: list[Span], service: str) -> dict[str, tuple[list[float], list[float]]]:
    """Per span name (numbered when a turn has several), its starts and ends in ms after the
    request span of the same trace opened."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span[0] == service:
            traces[span[1]].append(span)
    rows: dict[str, tuple[list[float], list[float]]] = {}
    for trace in traces.values():
        roots = [s for s in trace if s[2] == ROOT]
        if len(roots) != 1:
            continue  # not a completion's trace (the set-up's chats, say)
        opened = roots[0][3]
        seen: dict[str, int] = defaultdict(int)
        for _, _, name, start, end in sorted(trace, key=lambda s: s[3]):
            seen[name] += 1
            key = name if seen[name] == 1 else f"{name} ({seen[name]})"
            starts, ends = rows.setdefault(key, ([], []))
            starts.append((start - opened) / 1e6)
            ends.append((end - opened) / 1e6)
    return rows


def ttft_timeline(env: Mapping[str, str], emulator: Any, headers: dict[str, str]) -> None:
    from tests.benchmarks.bench_chat import (
        Target,
        _load,
        chats_for,
        standin_process,
        uvicorn_process,
    )

    with span_receiver() as (endpoint, spans), ExitStack() as stack:
        standin = stack.enter_context(standin_process(env["AWS_ENDPOINT_URL_DYNAMODB"]))
        traced = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OLLAMA_BASE_URL": emulator.url,
        }
        apps = {}
        endpoints = {"moto": env["AWS_ENDPOINT_URL_DYNAMODB"], "stand-in": standin}
        for service, dynamodb in endpoints.items():
            apps[service] = stack.enter_context(
                uvicorn_process(
                    f"stratus traced ({service})", "local.composed:create_local_app",
                    {**env, **traced, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb,
                     "OTEL_SERVICE_NAME": service},
                    factory=True, ready="/healthz",
                )
            )  # fmt: skip
        ttft: dict[str, float] = {}
        for service, app in apps.items():
            chats = chats_for(app.url, headers, TURNS + 1)
            target = Target(app, "/v1/chat/completions", headers, chats)
            samples, _, _ = asyncio.run(_load(target, 1, TURNS))
            ttft[service] = median([s.ttft for s in samples]) * 1000
        time.sleep(1)  # the exporters send every 100 ms

    print(
        f"\n## Where the first token's time goes: the app's spans, {TURNS} saved turns at "
        "concurrency 1 (medians, ms after the request's span opened; tracing on)"
    )
    print(
        "postgres.transaction, in order: the session lookup (inside auth), the chat's ownership "
        "check, the turn's insert, its final save. dynamodb.UpdateItem: the registry's start "
        "(admission; the upstream request waits for it), then its finish. upstream.first_byte: "
        "from the model host's response headers to its first line."
    )
    for service in apps:
        rows = offsets(spans, service)
        print(f"\n### Against {service} (TTFT at the client {ttft[service]:.1f} ms)")
        # Steps of (nearly) every turn; a user's first turn also creates the state item.
        ordered = sorted(
            ((name, row) for name, row in rows.items() if len(row[0]) > TURNS // 2),
            key=lambda item: median(item[1][0]),
        )
        print(
            table(
                ["span", "starts", "ends", "lasts", "turns"],
                [
                    [
                        name,
                        f"{median(starts):.2f}",
                        f"{median(ends):.2f}",
                        f"{median([e - s for s, e in zip(starts, ends, strict=True)]):.2f}",
                        len(starts),
                    ]
                    for name, (starts, ends) in ordered
                ],
            )
        )
