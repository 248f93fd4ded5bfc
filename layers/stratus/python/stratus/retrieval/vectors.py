"""pgvector's text form for vectors: how they travel as query parameters and in COPY."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

_encode = msgspec.json.Encoder().encode


def vector_literal(vector: Sequence[float]) -> str:
    """``[x,y,...]``: pgvector's text form is JSON's list of numbers, so the fast JSON encoder
    writes it. Sent as a parameter or COPY value, never spliced into SQL."""
    return _encode([float(x) for x in vector]).decode()
