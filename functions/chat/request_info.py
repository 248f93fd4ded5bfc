"""What the generation engine needs to know about the HTTP request itself."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request

from functions.chat.generation.deadline import lambda_deadline
from functions.chat.generation.service import RequestInfo


def request_info(request: Request[Any, Any, Any]) -> RequestInfo:
    header = request.headers.get("x-amzn-lambda-context")
    return RequestInfo(
        received_at_ms=int(time.time() * 1000),
        lambda_deadline=lambda_deadline({"x-amzn-lambda-context": header} if header else None),
    )
