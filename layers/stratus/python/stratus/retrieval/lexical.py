"""The text side of retrieval: BM25 over the chunks' lexemes, with any query term matching.

A question asked as a sentence rarely has every one of its words in any chunk, so the text side
matches *any* of the query's stemmed lexemes and ranks by Okapi BM25 (k1 1.2, b 0.75, Lucene's
defaults and idf): each matching term adds its rarity (idf, from how many chunks hold it) times
a saturating function of how often the chunk holds it, normalised by the chunk's length.
Measured on BEIR's SciFact (tests/benchmarks/bench_rag_quality.py), this scored nDCG@10 0.69
where ``ts_rank_cd`` over the same any-term query scored 0.41 and ``ts_rank`` 0.60.

The postings and the collection statistics live in Postgres (migration 0006), kept by triggers
on every insert and delete of chunks, under one row lock, so concurrent ingests and deletions
never lose a count. Statistics are global, over every user's chunks, as search engines keep them;
a search reads only the postings of its caller's chunks.

The text search configuration (``STRATUS_RAG_TEXT_SEARCH_CONFIG``: ``english`` stems English,
``simple`` only lowercases, for mixed languages) is recorded with the postings. When the setting
differs from what the postings were made with, the first search rebuilds them (once, under the
same lock: concurrent searches wait for it, then find it done); no migration is run by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.observability import get_logger

if TYPE_CHECKING:
    from psycopg import AsyncConnection

# Okapi BM25's term-frequency saturation and length normalisation (Lucene's and Anserini's
# defaults; on SciFact, k1 0.9 / b 0.4 and k1 1.5 / b 0.75 scored within 0.004 of these).
K1 = 1.2
B = 0.75

# The query's distinct lexemes that some chunk holds, with their idf, under the configuration
# the postings were made with (so query and postings are always stemmed alike).
_TERMS = """
SELECT g.config::text, g.tokens::float8 / greatest(g.chunks, 1),
       coalesce(array_agg(l.lexeme ORDER BY l.lexeme) FILTER (WHERE l.lexeme IS NOT NULL), '{}'),
       coalesce(array_agg(ln(1 + (g.chunks - l.chunks + 0.5) / (l.chunks + 0.5))
                          ORDER BY l.lexeme) FILTER (WHERE l.lexeme IS NOT NULL), '{}')
FROM rag_text_index g
LEFT JOIN rag_lexemes l
  ON l.lexeme = ANY(tsvector_to_array(to_tsvector(g.config, %(text)s))) AND l.chunks > 0
GROUP BY g.config, g.tokens, g.chunks
"""


@dataclass(frozen=True, slots=True)
class Terms:
    """What the text side searches for: lexemes and their idf, and the average chunk length."""

    config: str
    average_length: float
    lexemes: tuple[str, ...]
    idf: tuple[float, ...]


async def query_terms(conn: AsyncConnection, text: str, config: str) -> Terms:
    """The query's terms, after making sure the postings were made with ``config``."""
    found = await _terms(conn, text)
    if found.config != config:
        await rebuild(conn, config)
        found = await _terms(conn, text)
    return found


async def _terms(conn: AsyncConnection, text: str) -> Terms:
    row = await (await conn.execute(_TERMS, {"text": text})).fetchone()
    if row is None:  # pragma: no cover - the migration inserts the row
        raise RuntimeError("rag_text_index has no row: run the migrations")
    config, average, lexemes, idf = row
    return Terms(str(config), float(average), tuple(lexemes), tuple(float(x) for x in idf))


async def rebuild(conn: AsyncConnection, config: str) -> None:
    """Postings and statistics again under ``config``, unless another process just did it."""
    async with conn.transaction():
        current = await (
            await conn.execute("SELECT config::text FROM rag_text_index FOR UPDATE")
        ).fetchone()
        if current is not None and current[0] == config:
            return
        get_logger().warning(
            "rebuilding the full-text postings for a new text search configuration",
            extra={"from": current[0] if current else None, "to": config},
        )
        await conn.execute("SELECT rag_text_rebuild(%s::regconfig)", (config,))
