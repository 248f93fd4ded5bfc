"""Values Postgres will store: text without NUL, and JSON text for jsonb columns.

Postgres text cannot hold NUL and jsonb refuses ``\\u0000``. Input from clients is refused at the
edge; a model's output cannot be refused, so its NULs are stored as U+FFFD.
"""

from __future__ import annotations

from typing import Any

import msgspec

NUL = "\x00"
_REPLACEMENT = "\ufffd"
_ENCODED_NUL = b"\\u0000"
_encoder = msgspec.json.Encoder()


def text(value: str) -> str:
    return value.replace(NUL, _REPLACEMENT) if NUL in value else value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def json_text(value: Any) -> str | None:
    """JSON for a ``%s::jsonb`` parameter; None stays SQL NULL."""
    if value is None:
        return None
    encoded = _encoder.encode(value)
    if _ENCODED_NUL in encoded:  # only a NUL encodes to this, so the common case skips the walk
        encoded = _encoder.encode(_scrub(value))
    return encoded.decode()
