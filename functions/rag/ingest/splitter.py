"""Text into overlapping chunks that respect paragraphs and sentences (``CHUNK_SIZE``/``_OVERLAP``).

The same recursive idea as Open WebUI's default splitter: cut at the coarsest boundary that
yields pieces no longer than ``size`` (blank lines, then line breaks, then sentence ends, then
spaces, then anywhere), and pack consecutive pieces into chunks of at most ``size`` characters.
Each chunk after the first begins with the last whole pieces of the previous one, up to
``overlap`` characters, so a sentence cut at a chunk's end is read whole in the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Coarsest first. Sentence ends keep their punctuation with the sentence.
_BOUNDARIES = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    # Latin and CJK full stops, exclamation and question marks.
    re.compile("(?<=[.!?\u3002\uff01\uff1f])\\s+"),
    re.compile(r"(?<=[;:,])\s+"),
    re.compile(r"\s+"),
)
_BLANK_RUNS = re.compile(r"[ \t\f\v]+")
_MANY_BLANK_LINES = re.compile(r"\n\s*\n(\s*\n)+")


@dataclass(frozen=True, slots=True)
class Chunk:
    position: int
    text: str


def normalise(text: str) -> str:
    """Runs of spaces become one; three or more line breaks become a paragraph break."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _BLANK_RUNS.sub(" ", text)
    return _MANY_BLANK_LINES.sub("\n\n", text).strip()


# What joins two pieces cut at each boundary when they are packed back into one chunk.
_JOINERS = ("\n\n", "\n", " ", " ", " ", "")


def _pieces(text: str, size: int, level: int = 0, joiner: str = "") -> Iterator[tuple[str, str]]:
    """(piece, joiner before it): pieces no longer than ``size``, in order, cut at the coarsest
    boundary that works."""
    if len(text) <= size:
        yield text, joiner
        return
    if level == len(_BOUNDARIES):
        for start in range(0, len(text), size):
            yield text[start : start + size], joiner if start == 0 else ""
        return
    pattern = _BOUNDARIES[level]
    inner = _JOINERS[level]
    position = 0
    first = True
    for match in [*pattern.finditer(text), None]:
        piece = text[position : match.start()] if match else text[position:]
        if match:
            position = match.end()
        if piece.strip():
            yield from _pieces(piece, size, level + 1, joiner if first else inner)
            first = False


def split_text(text: str, size: int, overlap: int) -> list[Chunk]:
    chunks: list[str] = []
    current: list[tuple[str, str]] = []
    length = 0
    for piece, joiner in _pieces(normalise(text), size):
        if current and length + len(joiner) + len(piece) > size:
            chunks.append(_joined(current))
            current = _overlap_tail(current, overlap, size - len(piece) - 1)
            length = len(_joined(current))
        current.append((piece, joiner))
        length = length + (len(joiner) if len(current) > 1 else 0) + len(piece)
    if current:
        chunks.append(_joined(current))
    texts = [chunk.strip() for chunk in chunks if chunk.strip()]
    return [Chunk(position, text) for position, text in enumerate(texts)]


def _joined(pieces: list[tuple[str, str]]) -> str:
    return "".join((joiner if i else "") + piece for i, (piece, joiner) in enumerate(pieces))


def _overlap_tail(pieces: list[tuple[str, str]], overlap: int, room: int) -> list[tuple[str, str]]:
    """The last whole pieces of a chunk, at most ``overlap`` characters and fitting ``room``."""
    budget = min(overlap, room)
    kept: list[tuple[str, str]] = []
    for index in range(len(pieces) - 1, -1, -1):
        candidate = [pieces[index], *kept]
        if len(_joined(candidate)) > budget:
            break
        kept = candidate
    return kept
