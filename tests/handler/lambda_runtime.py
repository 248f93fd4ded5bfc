"""Invoke Lambda handlers the way the Python runtime does: one thread, one persistent event loop."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from local.lambda_context import LocalLambdaContext

EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def fresh_handler_module(function: str) -> ModuleType:
    """A cold start: re-import the handler module so nothing is built yet.

    Powertools remembers cold starts per process (a real cold start is a new process), so its
    flags are reset too.
    """
    from aws_lambda_powertools.logging import logger
    from aws_lambda_powertools.metrics.provider import cold_start

    cold_start.reset_cold_start_flag()
    logger.is_cold_start = True
    name = f"functions.{function}.handler"
    # Importing is the init; a module imported before runs its init again by a reload.
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


def context_for(function: str) -> LocalLambdaContext:
    return LocalLambdaContext(function_name=f"stratus-{function}")


@pytest.fixture
def runtime_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The runtime's main-thread loop, which Mangum reuses for every invocation."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        # The function's process would end here; the test process goes on, so what the
        # handler built on this loop (HTTP sessions, the pool) is closed with it.
        from stratus.web.plugin import close_resources

        loop.run_until_complete(close_resources())
        asyncio.set_event_loop(None)
        loop.close()
        # A handler's init freezes every object in the process out of the collector's reach (a
        # Lambda process is the function's alone); the test process gets them back.
        gc.unfreeze()
