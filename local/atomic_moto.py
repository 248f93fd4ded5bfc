"""moto's server, applying one request at a time, as DynamoDB applies one write per item at a time.

moto keeps items in plain dicts without locks: two UpdateItem calls on one item from parallel
threads can lose an update (seen: 38 of 40 concurrent increments kept). The brute-force limiter's
guarantee rests on DynamoDB's atomic updates, so the local stack and the tests serialise moto's
work; connections are still accepted in parallel.

It is served by uvicorn through a2wsgi rather than by werkzeug's development server, which
closes every connection after one request: DynamoDB and S3 keep connections alive, so a client
here pays what it pays in AWS, not a TCP handshake per call.

``python -m local.atomic_moto --host 127.0.0.1 --port N`` serves until terminated.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneAtATime:
    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            # Drain the body under the lock too: a lazy iterable could still touch the backend.
            return list(self._app(environ, start_response))


def atomic_moto_app() -> Any:
    """moto's whole server (every service, routed by host and headers) as an ASGI app."""
    from a2wsgi import WSGIMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
    return WSGIMiddleware(app, workers=8)  # type: ignore[arg-type]  # a WSGI app, typed loosely


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
