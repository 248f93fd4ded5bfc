"""A real HTTP server on loopback for tests whose requests must truly overlap.

Litestar's ``AsyncTestClient`` pushes requests through one portal, one at a time, so a race in
the code under test can never show. Here uvicorn serves the app from a background thread with
its own event loop; clients send from the test's loop (or from threads) over real sockets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from local.children import free_port

_STARTUP_TIMEOUT = 15.0


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def live_server(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on") -> Iterator[LiveServer]:
    """Serve ``app`` on 127.0.0.1 until the block exits.

    The server's peer address for clients is 127.0.0.1, so tests that need forwarded headers
    to count must trust it (``FORWARDED_ALLOW_IPS=127.0.0.1``) explicitly.
    """
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan=lifespan,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
        # Enough backlog and no keep-alive limit surprises for bursts of concurrent clients.
        backlog=256,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server exited during start-up")
        if time.monotonic() > deadline:
            raise RuntimeError("the live server did not start in time")
        time.sleep(0.01)
    try:
        yield LiveServer("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)


@contextmanager
def served_api(mode: Literal["composed", "lambda-mode"]) -> Iterator[str]:
    """The whole API over real HTTP, as ``make up`` serves it (``composed``: one process) or
    with each function behind its Lambda handler (``lambda-mode``); yields its base URL."""
    from local.composed import create_local_app
    from local.lambda_bridge import create_lambda_mode_app

    if mode == "composed":
        with live_server(create_local_app()) as server:
            yield server.base_url
        return
    bridge = create_lambda_mode_app()
    try:
        with live_server(bridge) as server:
            yield server.base_url
    finally:
        bridge.shutdown()
