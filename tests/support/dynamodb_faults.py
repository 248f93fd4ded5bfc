"""A fault-injecting proxy in front of moto's DynamoDB: real throttling errors on the wire.

Requests pass through unchanged unless their operation (``X-Amz-Target``, e.g. ``GetItem``) is
set to fail; then the proxy answers exactly as DynamoDB does when it throttles, and botocore
retries and raises ``ProvisionedThroughputExceededException`` as it would in AWS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.asgi import read_body
from tests.support.live_server import live_server

THROTTLED = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"The level of configured provisioned throughput for the table was exceeded."}'
)


@dataclass
class DynamoFaults:
    upstream: str
    failing: set[str] = field(default_factory=set)
    failed: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, *operations: str) -> None:
        with self.lock:
            self.failing = set(operations)

    def failures(self, operation: str) -> int:
        with self.lock:
            return self.failed.get(operation, 0)

    def calls(self) -> dict[str, int]:
        """Every operation that reached the proxy, failed or passed, by name."""
        with self.lock:
            return dict(self.seen)


def _app(faults: DynamoFaults) -> Any:
    client = httpx.AsyncClient(base_url=faults.upstream, timeout=10)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k != b"host"}
        operation = headers.get("x-amz-target", "").rpartition(".")[2]
        with faults.lock:
            faults.seen[operation] = faults.seen.get(operation, 0) + 1
            fail = operation in faults.failing
            if fail:
                faults.failed[operation] = faults.failed.get(operation, 0) + 1
        if fail:
            status, out, content_type = 400, THROTTLED, "application/x-amz-json-1.0"
        else:
            response = await client.request(
                scope["method"], scope["path"], content=body, headers=headers
            )
            status, out = response.status_code, response.content
            content_type = response.headers.get("content-type", "application/x-amz-json-1.0")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type.encode())],
            }
        )
        await send({"type": "http.response.body", "body": out})

    return app


@contextmanager
def dynamodb_faults(moto_endpoint: str) -> Iterator[tuple[DynamoFaults, str]]:
    faults = DynamoFaults(moto_endpoint)
    with live_server(_app(faults), lifespan="off") as server:
        yield faults, server.base_url
