"""Run an emulator in-process for tests: `with running_emulator() as emulator: ...`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from local.emulator.app import EmulatorApp, create_app
from local.emulator.config import EmulatorConfig
from local.emulator.faults import Faults
from local.emulator.server import bind_loopback, make_server
from local.emulator.state import EmulatorState
from local.emulator.stats import EmulatorStats

_STARTUP_TIMEOUT_SECONDS = 10.0
_SHUTDOWN_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class EmulatorHandle:
    app: EmulatorApp
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> EmulatorState:
        return self.app.state

    @property
    def stats(self) -> EmulatorStats:
        """The live stats object (thread-safe; see `EmulatorStats.wait_for`)."""
        return self.app.stats

    def set_faults(self, **changes: Any) -> Faults:
        """Merge fault settings (e.g. `reset_after=3`; None clears one); returns the result."""
        return self.state.update_faults(changes)

    def reset(self) -> None:
        """Configured faults back, stats cleared, no model loaded."""
        self.state.reset()


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, *, port: int = 0
) -> Iterator[EmulatorHandle]:
    """Serve an emulator on 127.0.0.1 from a background thread.

    `config.host` and `config.port` are ignored: the emulator binds loopback, on `port` if
    given (say, Ollama's 11434 for the local stack) or else on a free one.
    """
    app = create_app(config)
    sock = bind_loopback(port)
    host, port = sock.getsockname()[:2]
    server = make_server(app, configure_logging=False)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"emulator-{port}", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        yield EmulatorHandle(app, host, port)
    finally:
        # Ends stalls and token delays at once instead of waiting out uvicorn's grace period.
        app.state.closing.set()
        server.should_exit = True
        thread.join(_SHUTDOWN_TIMEOUT_SECONDS)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_SHUTDOWN_TIMEOUT_SECONDS)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("emulator server thread exited during startup")
        if time.monotonic() > deadline:
            raise RuntimeError("emulator did not start within its startup timeout")
        time.sleep(0.01)
