"""moto's server, applying one request at a time, as DynamoDB applies one write per item at a time.

moto keeps items in plain dicts without locks: two UpdateItem calls on one item from parallel
threads can lose an update (seen: 38 of 40 concurrent increments kept). The brute-force limiter's
guarantee rests on DynamoDB's atomic updates, so the local stack and the tests serialise moto's
work; connections are still accepted in parallel.

``python -m local.atomic_moto --host 127.0.0.1 --port N`` serves until terminated.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneAtATime:
    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            # Drain the body under the lock too: a lazy iterable could still touch the backend.
            return list(self._app(environ, start_response))


def make_atomic_moto_server(host: str, port: int) -> BaseWSGIServer:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
    return make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # As moto's own entry point does: some responses name the server's port.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    make_atomic_moto_server(args.host, args.port).serve_forever()


if __name__ == "__main__":
    main()
