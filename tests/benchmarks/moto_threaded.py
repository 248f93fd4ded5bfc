"""The local stack's moto server as it was before 0.5.1: a baseline for ``bench_hotpath``.

moto's WSGI app behind a2wsgi's ``WSGIMiddleware`` (a pool of worker threads) and a lock, so
one request at a time. ``local.atomic_moto`` now runs the app on the event loop instead.

``python -m tests.benchmarks.moto_threaded --port N`` serves until terminated.
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Callable
from typing import Any


class _OneAtATime:
    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


def main() -> None:
    import uvicorn
    from a2wsgi import WSGIMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = WSGIMiddleware(_OneAtATime(DomainDispatcherApplication(create_backend_app)), workers=8)  # type: ignore[arg-type]
    uvicorn.run(app, host="127.0.0.1", port=args.port, lifespan="off", access_log=False,
                log_level="warning")  # fmt: skip


if __name__ == "__main__":
    main()
