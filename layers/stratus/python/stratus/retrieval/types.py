"""The shapes retrieval speaks: what to search (``Ref``) and what it found (``Source``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RefKind = Literal["file", "collection"]
# hybrid: vectors and full text, fused; vector: embeddings only; text: BM25 only.
Mode = Literal["hybrid", "vector", "text"]
MODES: tuple[Mode, ...] = ("hybrid", "vector", "text")


@dataclass(frozen=True, slots=True)
class Ref:
    """A file or a knowledge collection to search, as a client names it in ``files``."""

    kind: RefKind
    id: str


@dataclass(frozen=True, slots=True)
class Source:
    """One retrieved chunk.

    ``id`` is the chunk's id; ``position`` its 0-based place in the file; ``score`` the ranking
    score (reciprocal rank fusion in hybrid mode, cosine similarity in vector mode, BM25 in text
    mode); ``similarity`` the cosine similarity to the query (None when only the text side found
    the chunk, and in text mode).
    """

    id: str
    file_id: str
    name: str
    position: int
    score: float
    similarity: float | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form chat returns on the first streamed chunk and saves with the message."""
        return {
            "id": self.id,
            "file_id": self.file_id,
            "name": self.name,
            "position": self.position,
            "score": self.score,
            "similarity": self.similarity,
            "text": self.text,
        }
