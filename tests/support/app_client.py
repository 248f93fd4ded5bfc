"""A test client over one of the local stack's apps, with the Lambda-mode bridge's worker shut
down afterwards (the in-process apps have none)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar.testing import AsyncTestClient


@asynccontextmanager
async def app_client(create: Callable[[], Any]) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create()
    try:
        async with AsyncTestClient(app) as client:
            yield client
    finally:
        if hasattr(app, "shutdown"):
            app.shutdown()
