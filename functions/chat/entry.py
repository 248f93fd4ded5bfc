"""The chat function's app as the Lambda Web Adapter starts it (``run.sh``).

A weak signing secret stops uvicorn at start-up, before the adapter's readiness check passes.
uvicorn's start-up (the function's init) builds the pool and clients without connecting; the
adapter's SnapStart hooks reach the app at ``stratus.web.snapstart``'s paths.
"""

from functions.chat.app import create_app
from stratus.web.snapstart import SnapStartHooks, web_adapter_app


def create_entry_app() -> SnapStartHooks:
    return web_adapter_app(create_app)
