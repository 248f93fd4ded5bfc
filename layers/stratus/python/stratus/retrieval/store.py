"""The retrieval SQL. Every statement that reads chunks or files carries the access filter itself.

A caller may use a file or a collection only if they own it or are an admin; a collection yields
only the files its reader may use, and only ``ready`` files have chunks at all. The filter
``(owner = caller OR caller is admin)`` is in each ``WHERE``, so no code path above can widen it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import sql

from stratus.retrieval.lexical import K1, B, Terms
from stratus.retrieval.plan import SearchPlan
from stratus.retrieval.types import Mode, Ref, Source
from stratus.retrieval.vectors import vector_literal

if TYPE_CHECKING:
    from psycopg import AsyncConnection

_VISIBLE = """
WITH total AS (SELECT reltuples::bigint AS n FROM pg_class WHERE oid = 'chunks'::regclass)
SELECT 'file', f.id, f.id, f.filename, f.status, f.embedding_model, f.chunk_count,
       (SELECT n FROM total)
FROM files f
WHERE f.id = ANY(%(file_ids)s) AND (f.user_id = %(uid)s OR %(admin)s)
UNION ALL
SELECT 'collection', k.id, f.id, f.filename, f.status, f.embedding_model, f.chunk_count,
       (SELECT n FROM total)
FROM knowledge k
LEFT JOIN knowledge_files kf ON kf.knowledge_id = k.id
LEFT JOIN files f ON f.id = kf.file_id AND (f.user_id = %(uid)s OR %(admin)s)
WHERE k.id = ANY(%(knowledge_ids)s) AND (k.user_id = %(uid)s OR %(admin)s)
"""


@dataclass(frozen=True, slots=True)
class VisibleFile:
    id: str
    name: str
    status: str
    embedding_model: str | None
    chunk_count: int


@dataclass(frozen=True, slots=True)
class Visible:
    """What a caller may search among the refs they named, and what they may not see at all."""

    found: frozenset[Ref]
    files: tuple[VisibleFile, ...]
    total_chunks: int


async def visible_files(
    conn: AsyncConnection, user_id: str, is_admin: bool, refs: Sequence[Ref]
) -> Visible:
    params = {
        "uid": user_id,
        "admin": is_admin,
        "file_ids": [r.id for r in refs if r.kind == "file"],
        "knowledge_ids": [r.id for r in refs if r.kind == "collection"],
    }
    rows = await (await conn.execute(_VISIBLE, params)).fetchall()
    found: set[Ref] = set()
    files: dict[str, VisibleFile] = {}
    total = 0
    for kind, ref_id, file_id, name, status, model, count, estimate in rows:
        found.add(Ref(kind, ref_id))
        total = int(estimate or 0)
        if file_id is not None:
            files[file_id] = VisibleFile(file_id, name, status, model, int(count))
    return Visible(frozenset(found), tuple(files.values()), total)


def _distance(plan: SearchPlan, dimensions: int) -> sql.Composable:
    if plan.method == "iterative":
        # The same expression as the HNSW index, so the planner can use it.
        typed = sql.SQL("vector({})").format(sql.Literal(dimensions))
        return sql.SQL("(c.embedding::{t}) <=> %(q)s::{t}").format(t=typed)
    # A different expression from the index's: the planner sorts the visible rows instead.
    return sql.SQL("c.embedding <=> %(q)s::vector")


# Every chunk filter: the caller's files, the caller's access, the configured model and size.
# The visible files are a set to join, not an IN-list: planning ``= ANY(array)`` costs about
# 10 ms per thousand ids (a collection of 5,000 files took 35-85 ms to plan), a hashed
# semi-join costs nothing to plan.
_VISIBLE_FILES = "(SELECT unnest(%(files)s::text[]))"
_CHUNK_FILTER = sql.SQL(
    "c.file_id IN " + _VISIBLE_FILES + " AND (c.user_id = %(uid)s OR %(admin)s) "
    "AND c.embedding_model = %(model)s AND c.dimensions = {dims}"
)

_VECTOR_CTE = """
vec AS MATERIALIZED (
    SELECT c.id, {distance} AS distance FROM chunks c
    WHERE {filter} ORDER BY distance LIMIT %(n)s
),
vec_ranked AS (SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank FROM vec)
"""

# BM25 over the query's lexemes, any of which may match (stratus.retrieval.lexical): each term
# reads its postings among the caller's chunks (one index range per term), summed per chunk.
_LEXICAL_CTE = """
lex AS MATERIALIZED (
    SELECT p.chunk_id AS id,
           sum(t.idf * p.tf * ({k1} + 1)
               / (p.tf + {k1} * (1 - {b} + {b} * p.length / %(average_length)s))) AS lexical
    FROM unnest(%(lexemes)s::text[], %(idf)s::float8[]) AS t(lexeme, idf)
    JOIN chunk_terms p ON p.lexeme = t.lexeme
    WHERE p.lexeme = ANY(%(lexemes)s::text[]) AND (p.user_id = %(uid)s OR %(admin)s)
      AND p.file_id IN {visible}
    GROUP BY p.chunk_id
    ORDER BY lexical DESC, p.chunk_id LIMIT %(n)s
),
lex_ranked AS (SELECT id, lexical, row_number() OVER (ORDER BY lexical DESC, id) AS rank FROM lex)
"""

# Reciprocal rank fusion: each side adds weight / (constant + rank) for the chunks it found.
_FUSED = """
fused AS (
    SELECT coalesce(v.id, l.id) AS id,
           coalesce(%(vector_weight)s / (%(rrf_k)s + v.rank), 0)
           + coalesce(%(text_weight)s / (%(rrf_k)s + l.rank), 0) AS score,
           v.distance
    FROM vec_ranked v FULL OUTER JOIN lex_ranked l ON v.id = l.id
)
"""

_VECTOR_ONLY = """
fused AS (SELECT id, 1 - distance AS score, distance FROM vec_ranked)
"""

_TEXT_ONLY = """
fused AS (SELECT id, lexical AS score, NULL::float8 AS distance FROM lex_ranked)
"""

# The best k, with two rules on top of the score: a chunk whose exact text ranked higher already
# (the same file uploaded twice) is left out, and a file's chunks beyond max_per_file are used
# only when the other files have nothing more to give. Returned best first.
_SELECT = """
, candidates AS (
    SELECT c.id, c.file_id, c.position, f.score, 1 - f.distance AS similarity, c.text,
           row_number() OVER (PARTITION BY c.file_id ORDER BY f.score DESC, c.id) AS in_file,
           row_number() OVER (PARTITION BY md5(c.text) ORDER BY f.score DESC, c.id) AS copy
    FROM fused f
    -- One primary-key lookup per candidate (OFFSET 0 keeps the planner from hashing every
    -- visible chunk instead); the candidates were found among the visible files only.
    CROSS JOIN LATERAL (
        SELECT c.id, c.file_id, c.position, c.text FROM chunks c
        WHERE c.id = f.id AND (c.user_id = %(uid)s OR %(admin)s) OFFSET 0
    ) c
), chosen AS (
    SELECT * FROM candidates WHERE copy = 1
    ORDER BY coalesce(in_file > %(max_per_file)s::integer, false), score DESC, id
    LIMIT %(k)s
)
SELECT id, file_id, position, score, similarity, text, {found} FROM chosen
ORDER BY score DESC, id
"""


def search_statement(plan: SearchPlan, dimensions: int, *, mode: Mode) -> sql.Composed:
    chunk_filter = _CHUNK_FILTER.format(dims=sql.Literal(dimensions))
    parts: list[sql.Composable] = []
    if mode != "text":
        distance = _distance(plan, dimensions)
        parts.append(sql.SQL(_VECTOR_CTE).format(distance=distance, filter=chunk_filter))
    if mode != "vector":
        parts.append(
            sql.SQL(_LEXICAL_CTE).format(
                k1=sql.Literal(K1), b=sql.Literal(B), visible=sql.SQL(_VISIBLE_FILES)
            )
        )
    parts.append(sql.SQL({"hybrid": _FUSED, "vector": _VECTOR_ONLY, "text": _TEXT_ONLY}[mode]))
    found = sql.SQL("0" if mode == "text" else "(SELECT count(*) FROM vec)")
    return sql.SQL("WITH ") + sql.SQL(",").join(parts) + sql.SQL(_SELECT).format(found=found)


@dataclass(frozen=True, slots=True)
class Fusion:
    """Reciprocal rank fusion's constant and the weight of each side (settings)."""

    k: float
    vector_weight: float
    text_weight: float


@dataclass(frozen=True, slots=True)
class SearchRequest:
    user_id: str
    is_admin: bool
    # The visible files to search, by id, with their names.
    files: Mapping[str, str]
    model: str
    dimensions: int
    vector: Sequence[float] | None
    terms: Terms | None
    candidates: int
    k: int
    mode: Mode
    max_per_file: int | None
    fusion: Fusion


@dataclass(frozen=True, slots=True)
class SearchResult:
    sources: list[Source]
    # How many chunks the vector side found: fewer than it asked for means the index came back
    # short, and the caller retries exactly.
    vector_found: int


async def search(conn: AsyncConnection, request: SearchRequest, plan: SearchPlan) -> SearchResult:
    """One transaction: the plan's settings apply to it alone (``SET LOCAL``), never to the
    session, so a pooled connection (RDS Proxy) is never pinned by them."""
    if plan.method == "iterative":
        for name, value in (
            ("hnsw.iterative_scan", "relaxed_order"),
            ("hnsw.ef_search", str(plan.ef_search)),
            ("hnsw.max_scan_tuples", str(plan.max_scan_tuples)),
        ):
            await conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    terms = request.terms
    params: dict[str, Any] = {
        "q": vector_literal(request.vector) if request.vector is not None else None,
        "files": list(request.files),
        "uid": request.user_id,
        "admin": request.is_admin,
        "model": request.model,
        "n": request.candidates,
        "k": request.k,
        "max_per_file": request.max_per_file,
        "lexemes": list(terms.lexemes) if terms else [],
        "idf": list(terms.idf) if terms else [],
        "average_length": terms.average_length if terms else 1.0,
        "rrf_k": float(request.fusion.k),
        "vector_weight": request.fusion.vector_weight,
        "text_weight": request.fusion.text_weight,
    }
    statement = search_statement(plan, request.dimensions, mode=request.mode)
    rows = await (await conn.execute(statement, params)).fetchall()
    sources = [
        Source(
            id=str(chunk_id),
            file_id=file_id,
            name=request.files[file_id],
            position=int(position),
            score=float(score),
            similarity=None if similarity is None else float(similarity),
            text=text,
        )
        for chunk_id, file_id, position, score, similarity, text, _ in rows
    ]
    return SearchResult(sources, int(rows[0][6]) if rows else 0)
