"""A TCP listener on loopback that accepts every connection and never answers: a hung server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class HangingListener:
    port: int
    held: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        return len(self.held)


@contextmanager
def hanging_listener() -> Iterator[HangingListener]:
    """Accepts connections and holds them open, reading and writing nothing, until the block
    ends; then closes them, so any client still waiting sees the connection drop."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    listener = HangingListener(server.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            listener.held.append(conn)

    thread = threading.Thread(target=accept, name="hanging-listener", daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        stop.set()
        thread.join(2)
        server.close()
        for conn in listener.held:
            conn.close()
