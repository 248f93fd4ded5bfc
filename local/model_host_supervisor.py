"""A model host that sleeps, on one machine: the emulator under a supervisor (scale-to-zero).

The local stand-in for the GPU host's Auto Scaling group: the emulator stops after
``idle_seconds`` without an inference request (the group's idle alarm), and a wake starts it
again on the same port after ``boot_seconds`` (an instance start plus a model load). The app
wakes it through the same code as the group (``stratus.modelhost.wake_controllers``), over a
small control API on loopback:

- ``GET /state``: ``{"state": "awake" | "starting" | "asleep", "wakes": N}``;
- ``POST /wake``: start it if it sleeps (a no-op otherwise); ``wakes`` counts real starts.

``python -m local.model_host_supervisor --port P --control-port C --idle-seconds N
--boot-seconds B`` (``make up-emulated ARGS="--model-host-idle-seconds N
--model-host-boot-seconds B"`` runs it for you). Tests run it in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.emulator import EmulatorConfig, running_emulator
from local.emulator.testing import EmulatorHandle

_TICK = 0.1


class Supervisor:
    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        port: int,
        idle_seconds: float,
        boot_seconds: float,
        control_port: int = 0,
    ) -> None:
        self.config = config
        self.port = port
        self.idle_seconds = idle_seconds
        self.boot_seconds = boot_seconds
        self.state = "asleep"
        self.wakes = 0
        self._lock = threading.Lock()
        self._running: contextlib.ExitStack | None = None
        self.emulator: EmulatorHandle | None = None
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", control_port), _handler(self))
        self._threads: list[threading.Thread] = []

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, awake: bool = True) -> Supervisor:
        if awake:
            self._start_emulator()
        for target in (self._server.serve_forever, self._watch_idle):
            thread = threading.Thread(target=target, name="model-host-supervisor", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self.sleep()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wake(self) -> str:
        with self._lock:
            if self.state != "asleep":
                return self.state
            self.state = "starting"
        threading.Thread(target=self._boot, name="model-host-boot", daemon=True).start()
        return "starting"

    def sleep(self) -> None:
        """Stop the emulator now: what the idle timer does (tests call it to start asleep)."""
        with self._lock:
            running, self._running, self.emulator = self._running, None, None
            self.state = "asleep"
        if running is not None:
            running.close()

    def _boot(self) -> None:
        if self._stopping.wait(self.boot_seconds):
            return
        self._start_emulator()
        with self._lock:
            self.wakes += 1

    def _start_emulator(self) -> None:
        stack = contextlib.ExitStack()
        emulator = stack.enter_context(running_emulator(self.config, port=self.port))
        with self._lock:
            self._running, self.emulator, self.state = stack, emulator, "awake"

    def _watch_idle(self) -> None:
        while not self._stopping.wait(_TICK):
            emulator = self.emulator
            if emulator is not None and _idle(emulator) > self.idle_seconds:
                self.sleep()


def _idle(emulator: EmulatorHandle) -> float:
    """Seconds without inference; 0 while a stream is still being written."""
    stats = emulator.stats
    ended = stats.streams_completed + stats.streams_abandoned + stats.streams_faulted
    return 0.0 if stats.streams_started > ended else stats.seconds_since_inference


def _handler(supervisor: Supervisor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/state":
                self._answer(404, {"error": "not found"})
                return
            self._answer(200, {"state": supervisor.state, "wakes": supervisor.wakes})

        def do_POST(self) -> None:
            if self.path != "/wake":
                self._answer(404, {"error": "not found"})
                return
            self._answer(200, {"state": supervisor.wake(), "wakes": supervisor.wakes})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per poll would drown the log

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.model_host_supervisor")
    parser.add_argument("--port", type=int, required=True, help="the emulator's port")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--idle-seconds", type=float, required=True)
    parser.add_argument("--boot-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    supervisor = Supervisor(
        port=args.port,
        idle_seconds=args.idle_seconds,
        boot_seconds=args.boot_seconds,
        control_port=args.control_port,
    ).start()
    print(
        f"model-host supervisor on {supervisor.control_url}: emulator on {supervisor.base_url}, "
        f"asleep after {args.idle_seconds:g} s idle, {args.boot_seconds:g} s to wake",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
    supervisor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
