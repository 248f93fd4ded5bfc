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

from stratus.retrieval.plan import SearchPlan
from stratus.retrieval.types import Ref, Source
from stratus.retrieval.vectors import vector_literal

if TYPE_CHECKING:
    from psycopg import AsyncConnection

# Reciprocal rank fusion's constant (Cormack et al.): dampens the weight of the very top ranks.
RRF_K = 60

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
_CHUNK_FILTER = sql.SQL(
    "c.file_id = ANY(%(files)s) AND (c.user_id = %(uid)s OR %(admin)s) "
    "AND c.embedding_model = %(model)s AND c.dimensions = {dims}"
)

_VECTOR_CTE = """
vec AS MATERIALIZED (
    SELECT c.id, {distance} AS distance FROM chunks c
    WHERE {filter} ORDER BY distance LIMIT %(n)s
),
vec_ranked AS (SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank FROM vec)
"""

# Web-search syntax (every word must match; "quoted phrases", or, -excluded), as Postgres hybrid
# search usually pairs with vectors: an any-word match would rank thousands of rows per query
# at 100k chunks, which is the index's job to avoid. Exact terms (names, codes, identifiers)
# are what the lexical side adds; the vector side covers paraphrase.
_LEXICAL_CTE = """
lex AS MATERIALIZED (
    SELECT c.id, ts_rank_cd(c.tsv, q.query) AS lexical
    FROM chunks c, (SELECT websearch_to_tsquery('english', %(text)s) AS query) q
    WHERE c.tsv @@ q.query AND {filter}
    ORDER BY lexical DESC LIMIT %(n)s
),
lex_ranked AS (SELECT id, row_number() OVER (ORDER BY lexical DESC, id) AS rank FROM lex)
"""

_FUSED = """
fused AS (
    SELECT coalesce(v.id, l.id) AS id,
           coalesce(1.0 / ({rrf} + v.rank), 0) + coalesce(1.0 / ({rrf} + l.rank), 0) AS score,
           v.distance
    FROM vec_ranked v FULL OUTER JOIN lex_ranked l ON v.id = l.id
)
"""

_VECTOR_ONLY = """
fused AS (SELECT id, 1 - distance AS score, distance FROM vec_ranked)
"""

_SELECT = """
SELECT c.id, c.file_id, c.position, fused.score, 1 - fused.distance, c.text,
       (SELECT count(*) FROM vec)
FROM fused
JOIN chunks c ON c.id = fused.id
WHERE (c.user_id = %(uid)s OR %(admin)s) AND c.file_id = ANY(%(files)s)
ORDER BY fused.score DESC, c.id
LIMIT %(k)s
"""


def search_statement(plan: SearchPlan, dimensions: int, *, hybrid: bool) -> sql.Composed:
    chunk_filter = _CHUNK_FILTER.format(dims=sql.Literal(dimensions))
    vector = sql.SQL(_VECTOR_CTE).format(distance=_distance(plan, dimensions), filter=chunk_filter)
    parts: list[sql.Composable] = [vector]
    if hybrid:
        parts.append(sql.SQL(_LEXICAL_CTE).format(filter=chunk_filter))
        parts.append(sql.SQL(_FUSED).format(rrf=sql.Literal(RRF_K)))
    else:
        parts.append(sql.SQL(_VECTOR_ONLY))
    return sql.SQL("WITH ") + sql.SQL(",").join(parts) + sql.SQL(_SELECT)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    user_id: str
    is_admin: bool
    # The visible files to search, by id, with their names.
    files: Mapping[str, str]
    model: str
    dimensions: int
    vector: Sequence[float]
    text: str
    candidates: int
    k: int
    hybrid: bool


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
    params: dict[str, Any] = {
        "q": vector_literal(request.vector),
        "text": request.text,
        "files": list(request.files),
        "uid": request.user_id,
        "admin": request.is_admin,
        "model": request.model,
        "n": request.candidates,
        "k": request.k,
    }
    statement = search_statement(plan, request.dimensions, hybrid=request.hybrid)
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
