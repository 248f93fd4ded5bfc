"""moto's server, applying one request at a time, as DynamoDB applies one write per item at a time.

moto keeps items in plain dicts without locks: two UpdateItem calls on one item from parallel
threads can lose an update (seen: 38 of 40 concurrent increments kept). The brute-force limiter's
guarantee rests on DynamoDB's atomic updates, so the local stack and the tests serialise moto's
work; connections are still accepted, and request bodies read, in parallel.

It is served by uvicorn rather than by werkzeug's development server, which closes every
connection after one request: DynamoDB and S3 keep connections alive, so a client here pays what
it pays in AWS, not a TCP handshake per call. moto's WSGI app runs on the event loop itself,
between reading a request and writing its answer: one request at a time by construction, with no
hand-off to a worker thread and back for the body, the status and every chunk (a2wsgi's
``WSGIMiddleware`` did that, under a lock; measured with chat's two calls per generation:
moto's CPU per pair 17.6 ms there, 10.1 ms here, with the dispatch cache below).

``python -m local.atomic_moto --host 127.0.0.1 --port N`` serves until terminated.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[Any, Callable[..., Any]], Iterable[bytes]]
Message = dict[str, Any]


class InlineWSGI:
    """An ASGI app that reads the whole request, then runs a WSGI app on the event loop."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Any],
        send: Callable[[Message], Any],
    ) -> None:
        if scope["type"] != "http":
            return
        from a2wsgi.wsgi import build_environ  # the environ as a2wsgi's middleware built it

        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        environ = build_environ(scope, io.BytesIO(bytes(body)))  # type: ignore[arg-type]
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [(status, headers)]
            return lambda data: None  # the legacy write(): moto never calls it

        result = self._app(environ, start_response)
        try:
            # Drained here, before any await: a lazy iterable could still touch the backend.
            answer = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started[0]
        await send(
            {
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def atomic_moto_app() -> Any:
    """moto's whole server (every service, routed by host and headers) as an ASGI app."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class RememberingDispatcher(DomainDispatcherApplication):
        """moto lists its package directory and tries its URL patterns one by one to find the
        service of every request; the answer for a host never changes, so it is kept."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._backends: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            if host not in self._backends:
                self._backends[host] = super().get_backend_for_host(host)
            return self._backends[host]

    return InlineWSGI(RememberingDispatcher(create_backend_app))


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # As moto's own entry point does: some responses name the server's port.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    uvicorn.run(
        atomic_moto_app(),
        host=args.host,
        port=args.port,
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
