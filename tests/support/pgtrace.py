"""What the client sent Postgres, message by message (libpq's protocol trace).

Round trips are proven by counting ``Sync`` messages: each one ends an exchange the client
waits on. The trace is set on the pool's only connection, so the pool must hold one.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from psycopg.pq import Trace

from stratus.db import close_pool, connection
from stratus.settings import reset_settings


@dataclass
class Sent:
    """The protocol messages the client sent (``Parse``, ``Bind``, ``Sync``...) and the raw
    trace, filled in when the block ends."""

    messages: list[str] = field(default_factory=list)
    text: str = ""


@asynccontextmanager
async def traced_pool(monkeypatch: object) -> AsyncIterator[Sent]:
    """A pool of one connection whose traffic inside the block is traced."""
    monkeypatch.setenv("DATABASE_POOL_SIZE", "1")  # type: ignore[attr-defined]
    reset_settings()
    await close_pool()
    sent = Sent()
    with tempfile.TemporaryFile("w+") as trace:
        async with connection() as conn:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield sent
        finally:
            async with connection() as conn:
                conn.pgconn.untrace()
            trace.seek(0)
            sent.text = trace.read()
            # The untrace block's own BEGIN/COMMIT are not traced: untrace runs first.
            sent.messages = re.findall(r"^F\t\d+\t(\w+)", sent.text, re.MULTILINE)
