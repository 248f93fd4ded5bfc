"""pgvector's text form for vectors: how they travel as query parameters and in COPY."""

from __future__ import annotations

from collections.abc import Sequence


def vector_literal(vector: Sequence[float]) -> str:
    """``[x,y,...]``; sent as a parameter, so nothing here is ever spliced into SQL."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"
