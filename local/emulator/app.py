"""The ASGI application: routing, the authenticating-proxy check, fail_status, stats."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.emulator.asgi import (
    BodyTooLarge,
    ClientGone,
    Connection,
    Receive,
    Scope,
    Send,
    read_body,
)
from local.emulator.config import EmulatorConfig
from local.emulator.control_routes import control_routes
from local.emulator.delivery import deliver
from local.emulator.faults import FAULT_HEADER, Faults
from local.emulator.ollama_routes import ollama_routes
from local.emulator.openai_routes import openai_routes
from local.emulator.routing import HttpError, Reply, RequestContext, Route, Router, json_reply
from local.emulator.state import EmulatorState
from local.emulator.stats import BODY_ROUTES, EmulatorStats, RequestRecord
from local.emulator.wire import error_payload, flavor_of

# What Ollama's router (gin) answers for a path it does not serve.
_NOT_FOUND = Reply(404, b"404 page not found", "text/plain; charset=utf-8")


class EmulatorApp:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._router = Router([*ollama_routes(), *openai_routes(), *control_routes()])

    @property
    def stats(self) -> EmulatorStats:
        return self.state.stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(self.state, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        # Ollama speaks no websockets; uvicorn rejects the handshake when we return.

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        headers = _headers(scope)
        matched = self._router.match(method, path)
        found, params = matched if matched else (None, {})
        kind = found.kind if found else "info"
        if kind != "control":
            self.state.stats.record_request(
                f"{method} {found.template if found else path}",
                RequestRecord(method, path, headers.get("host"), "authorization" in headers),
                management=kind == "management",
            )
        try:
            body = await read_body(receive)
        except ClientGone:
            return
        except BodyTooLarge:
            body = None
        request = _Request(method, path, headers, body, found, params)
        conn = Connection(receive, send, self.state.closing, head=method == "HEAD")
        async with conn:
            try:
                await self._respond(conn, request)
            except HttpError as exc:
                payload = error_payload(flavor_of(path), exc.status, exc.message)
                await conn.send_reply(json_reply(payload, exc.status))

    async def _respond(self, conn: Connection, request: _Request) -> None:
        """Checks run in the order a real deployment applies them: the authenticating
        proxy, then routing, then the model host itself."""
        found, body = request.route, request.body
        faults = Faults()
        if found is None or found.kind != "control":
            try:
                faults = self.state.effective_faults(request.headers.get(FAULT_HEADER))
            except ValueError as exc:
                raise HttpError(400, f"bad {FAULT_HEADER} header: {exc}") from None
            if faults.require_api_key and not _authorized(request.headers, faults.require_api_key):
                raise HttpError(401, "unauthorized")
        if found is None:
            await conn.send_reply(_NOT_FOUND)
            return
        if body is None:
            raise HttpError(413, "request body too large")
        if request.path in BODY_ROUTES:
            self.state.stats.record_body(request.path, _decoded(body))
        if found.kind == "model" and faults.fail_status is not None:
            status = faults.fail_status
            raise HttpError(status, f"emulated upstream failure (status {status})")
        ctx = RequestContext(
            request.method, request.path, request.headers, body, self.state, faults, request.params
        )
        await deliver(conn, await found.handler(ctx), faults, self.state)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes | None  # None when it exceeded the size limit
    route: Route | None
    params: dict[str, str]


def create_app(config: EmulatorConfig | None = None) -> EmulatorApp:
    """A fresh emulator; its live state is `app.state` (stats at `app.stats`)."""
    return EmulatorApp(EmulatorState(config or EmulatorConfig()))


def _headers(scope: Scope) -> dict[str, str]:
    # Repeated headers keep the last value; nothing the emulator reads is legitimately repeated.
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def _authorized(headers: Mapping[str, str], key: str) -> bool:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        # Kept as text so a test can still see what malformed body reached the upstream.
        return body.decode("utf-8", errors="replace")


async def _lifespan(state: EmulatorState, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            state.closing.set()
            await send({"type": "lifespan.shutdown.complete"})
            return
