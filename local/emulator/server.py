"""Serving the emulator with uvicorn, for both the CLI and the test harness."""

from __future__ import annotations

import logging
import socket

import uvicorn

from local.emulator.app import EmulatorApp
from local.emulator.asgi import ConnectionDropped

# A stalled stream is held at most this long once the server is asked to stop.
_GRACEFUL_SHUTDOWN_SECONDS = 2


class _HideEmulatedResets(logging.Filter):
    """Injected resets are the emulator working as asked, not errors worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_HIDE_RESETS = _HideEmulatedResets()


def make_server(
    app: EmulatorApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    configure_logging: bool = True,
) -> uvicorn.Server:
    """A uvicorn server for `app`; with `configure_logging=False` the host process's logging
    setup (pytest's capture, say) is left alone."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        interface="asgi3",
        lifespan="on",
        # Without our own logging setup, leave the host's logger levels alone too.
        log_level=log_level if configure_logging else None,
        access_log=False,
        log_config=uvicorn.config.LOGGING_CONFIG if configure_logging else None,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
    )
    # addFilter ignores a filter that is already installed, so repeated servers are fine.
    logging.getLogger("uvicorn.error").addFilter(_HIDE_RESETS)
    return uvicorn.Server(config)


def bind_loopback(port: int = 0) -> socket.socket:
    """A loopback socket bound before serving starts, so its port (free, if 0) is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if port:
            # Lets a restarted dev stack rebind while old connections sit in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock
