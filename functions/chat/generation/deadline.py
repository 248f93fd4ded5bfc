"""The Lambda deadline as the chat app sees it under the Web Adapter.

The adapter forwards the invocation context as JSON in ``x-amzn-lambda-context``: the
``lambda_runtime`` crate's ``Context``, whose ``deadline`` is epoch milliseconds. Outside Lambda
the header means nothing (a client could send it), so it is read only in Lambda.
"""

from __future__ import annotations

import msgspec

from stratus.settings import in_lambda

_decode = msgspec.json.Decoder().decode


def lambda_deadline(
    headers: dict[str, str] | None, *, running_in_lambda: bool | None = None
) -> float | None:
    """Epoch seconds at which Lambda ends this invocation, or None when unknown."""
    if not (in_lambda() if running_in_lambda is None else running_in_lambda) or not headers:
        return None
    raw = headers.get("x-amzn-lambda-context")
    if not raw:
        return None
    try:
        context = _decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(context, dict):
        return None
    deadline = context.get("deadline", context.get("deadline_ms"))
    if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline > 0:
        return deadline / 1000
    return None
