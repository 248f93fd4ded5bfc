"""The chat function's app as the Lambda Web Adapter starts it (``run.sh``).

A weak signing secret stops uvicorn at start-up, before the adapter's readiness check passes.
The factory and uvicorn's start-up are the function's init: the app's modules are imported here,
with the garbage collector off until the start-up completes (``stratus.init_gc``), and the
start-up builds the pool and clients without connecting. The adapter's SnapStart hooks reach the
app at ``stratus.web.snapstart``'s paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus import init_gc

if TYPE_CHECKING:
    from stratus.web.snapstart import SnapStartHooks


def create_entry_app() -> SnapStartHooks:
    init_gc.begin()  # ended by SnapStartHooks once the app's start-up is complete
    from functions.chat.app import create_app
    from stratus.web.snapstart import web_adapter_app

    return web_adapter_app(create_app)
