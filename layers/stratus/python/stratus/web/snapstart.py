"""SnapStart's hooks for an app behind the Lambda Web Adapter, which runs it as its own process.

The adapter gets the runtime's before-snapshot and after-restore events and POSTs to the paths in
``AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH`` and ``AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH``
(set them to the two paths below); it serves traffic only after a 2xx. Before the snapshot every
resource is closed; after a restore each is reset, the random generators re-seeded and the
resources built again, unconnected (``stratus.lifecycle``).

The adapter adds ``x-amzn-request-context`` to every invocation it forwards, and its hook calls
carry none: a request with that header came through API Gateway and is passed to the app, which
has no such route (404). Only loopback callers reach the hooks at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from stratus import init_gc, lifecycle
from stratus.entry import entry_app
from stratus.lifecycle import Resource
from stratus.observability import get_logger
from stratus.web.plugin import StratusPlugin

BEFORE_CHECKPOINT_PATH = "/_lambda/snapstart/before-checkpoint"
AFTER_RESTORE_PATH = "/_lambda/snapstart/after-restore"


def _is_hook_call(scope: Scope) -> bool:
    if scope["type"] != ScopeType.HTTP or scope.get("method") != "POST":
        return False
    if scope["path"] not in (BEFORE_CHECKPOINT_PATH, AFTER_RESTORE_PATH):
        return False
    if any(name == b"x-amzn-request-context" for name, _ in scope.get("headers", ())):
        return False
    client = scope.get("client")
    try:
        return client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class SnapStartHooks:
    """ASGI wrapper: the two hook paths for the adapter, everything else to ``app``. It also
    marks the end of init once the app's start-up (which builds its resources) is complete."""

    def __init__(self, app: ASGIApp, resources: Sequence[Resource]) -> None:
        self.app = app
        self.resources = tuple(resources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET):  # lifespan
            await self.app(scope, receive, _ending_init(send))
            return
        if not _is_hook_call(scope):
            await self.app(scope, receive, send)
            return
        while (await receive()).get("more_body", False):
            pass  # the adapter sends an empty body
        if scope["path"] == BEFORE_CHECKPOINT_PATH:
            await lifecycle.reset(self.resources)
        else:
            await lifecycle.restored(self.resources)
        get_logger().info("snapstart hook", extra={"path": scope["path"]})
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 204,
            "headers": [],
        }
        end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(start)
        await send(end)


def _ending_init(send: Send) -> Send:
    async def relay(message: Any) -> None:
        if message["type"] == "lifespan.startup.complete":
            init_gc.end()
        await send(message)

    return relay


def web_adapter_app(create_app: Callable[[], Litestar]) -> SnapStartHooks:
    """The app uvicorn serves behind the Web Adapter: the function's app (whose start-up builds
    its resources, unconnected) with the adapter's SnapStart hooks in front."""
    app = entry_app(create_app)
    return SnapStartHooks(app, app.plugins.get(StratusPlugin).resources)
