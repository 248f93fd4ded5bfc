"""The local Lambda mode: like ``sam local start-api``, without Docker.

Requests for auth and rag become API Gateway events for their real Mangum handlers. Each function
gets its own execution environment: one thread with its own event loop, which runs the handler
module's init (a fresh import of it, as a new Lambda environment does) and then serves one
invocation at a time, keeping its warm state (app, pool, clients) between invocations. A function
whose init fails answers every request as API Gateway does. Chat runs as its ASGI app, as it does
under the Lambda Web Adapter. The web client's static files (``/``, ``/assets/...``) are served by
a small app of their own beside the functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from local.gateway_event import http_api_event, send_result
from local.lambda_context import LocalLambdaContext
from local.routing import MANGUM_FUNCTION_PREFIXES, function_for
from local.webclient import is_web_path
from stratus.observability import get_logger

# What API Gateway answers when the function itself fails.
FUNCTION_ERROR: dict[str, Any] = {
    "statusCode": 500,
    "headers": {"content-type": "application/json"},
    "body": json.dumps({"message": "Internal Server Error"}),
}


def _give_thread_a_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


def _end_environment() -> None:
    """What the init built on this environment's loop (pool, HTTP sessions) is closed with it:
    a Lambda environment's process simply ends, this one's goes on."""
    from stratus.web.plugin import close_resources

    loop = asyncio.get_event_loop()
    loop.run_until_complete(close_resources())
    loop.close()


def _init_handler(function: str) -> Any:
    """Lambda's init: the handler module executed afresh, in this environment's thread."""
    spec = importlib.util.find_spec(f"functions.{function}.handler")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


class ExecutionEnvironment:
    def __init__(self, function: str) -> None:
        self.function = function
        self.invocations = 0
        self._thread = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"lambda-{function}", initializer=_give_thread_a_loop
        )
        self._handler: Future[Any] | None = None

    async def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations += 1
        if self._handler is None:
            # On demand, as Lambda does: the first invocation runs the init, in the thread.
            self._handler = self._thread.submit(_init_handler, self.function)
        handler = await asyncio.wrap_future(self._handler)
        context = LocalLambdaContext(function_name=f"stratus-{self.function}")
        future = self._thread.submit(handler, event, context)
        result: dict[str, Any] = await asyncio.wrap_future(future)
        return result

    def shutdown(self) -> None:
        if self._handler is not None:
            ending = self._thread.submit(_end_environment)
            with contextlib.suppress(Exception):  # a hung invocation must not hold the exit
                ending.result(timeout=5)
        self._thread.shutdown(wait=False, cancel_futures=True)


class LambdaBridge:
    def __init__(self, chat_app: ASGIApp, web_app: ASGIApp) -> None:
        self.chat_app = chat_app
        self.web_app = web_app
        self.environments = {name: ExecutionEnvironment(name) for name in MANGUM_FUNCTION_PREFIXES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and is_web_path(scope["path"]):
            await self.web_app(scope, receive, send)
            return
        if scope["type"] != ScopeType.HTTP or function_for(scope["path"]) == "chat":
            await self.chat_app(scope, receive, send)
            return
        body = await _read_body(receive)
        # As API Gateway does: the address the connection came from, never a client's header.
        source_ip = str((scope.get("client") or ("127.0.0.1", 0))[0])
        event = http_api_event(scope, body, source_ip)
        try:
            result = await self.environments[function_for(scope["path"])].invoke(event)
        except Exception:
            # A function that raises gets API Gateway's own answer, never the bridge's traceback.
            get_logger().exception("lambda invocation failed", extra={"path": scope["path"]})
            result = FUNCTION_ERROR
        await send_result(result, send)

    def shutdown(self) -> None:
        for environment in self.environments.values():
            environment.shutdown()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def create_lambda_mode_app() -> LambdaBridge:
    from functions.chat.app import create_app as create_chat_app
    from local.webclient.app import create_web_app

    return LambdaBridge(create_chat_app(), create_web_app())
