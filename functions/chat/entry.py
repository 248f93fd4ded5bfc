"""The chat function's app as the Lambda Web Adapter starts it (``run.sh``).

A weak signing secret stops uvicorn at start-up, before the adapter's readiness check passes.
"""

from litestar import Litestar

from functions.chat.app import create_app
from stratus.lambda_http import entry_app


def create_entry_app() -> Litestar:
    return entry_app(create_app)
