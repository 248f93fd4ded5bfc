"""A filtered search that really walks HNSW still returns k results (matrix row 30).

``test_rag_retrieval``'s 1%-visible search is answered without the index: so few visible chunks
are cheaper to sort, and the planner takes ``chunks_user_idx`` even when the iterative plan is
forced. The index is walked only when the filter looks unselective, so here Alice can see 70% of
10,000 chunks; but Bob's 3,000 sit right around the query, so the first neighbours HNSW finds
(``hnsw.ef_search`` of them) are all his, and a plain index scan filtered to Alice returns none.
The test checks the planner's choice with EXPLAIN on the app's own statement, then asks the API:
only pgvector's iterative scan (or the exact-scan fallback behind it) returns her k nearest.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql

from local.emulator.content import embed_text
from stratus.observability import get_metrics
from stratus.retrieval.plan import choose_plan
from stratus.retrieval.store import search_statement
from stratus.retrieval.vectors import vector_literal
from stratus.settings import rag_settings
from tests.support.auth import apply_env
from tests.support.rag import (
    bulk_load,
    db_rows,
    embedding_model,
    insert_ready_file,
    points_around,
    rag_client,
    rag_env,
    users,
)

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]

TOTAL = 10_000
VISIBLE = 7_000  # below about 60% the planner sorts the visible chunks instead
K = 10
# What the retrieval service asks the vector side for, k=10 (CANDIDATES_PER_RESULT = 4).
CANDIDATES = 40


def _index_names(plan: Any) -> list[str]:
    if isinstance(plan, dict):
        own = [plan["Index Name"]] if "Index Name" in plan else []
        return own + [name for value in plan.values() for name in _index_names(value)]
    if isinstance(plan, list):
        return [name for item in plan for name in _index_names(item)]
    return []


def indexes_the_app_would_use(
    user_id: str, file_id: str, target: list[float], dimensions: int, model: str
) -> list[str]:
    """EXPLAIN of the search statement the store runs, with the plan the service picks."""
    settings = rag_settings()
    plan = choose_plan(
        visible_chunks=VISIBLE,
        total_chunks=TOTAL,
        dimensions=dimensions,
        candidates=CANDIDATES,
        ef_search=settings.ef_search,
        exact_max=settings.exact_search_max_chunks,
        max_scan_cap=settings.max_scan_tuples,
    )
    assert plan.method == "iterative", plan
    statement = search_statement(plan, dimensions, mode="vector")
    params = {
        "q": vector_literal(target),
        "files": [file_id],
        "uid": user_id,
        "admin": False,
        "model": model,
        "n": CANDIDATES,
        "k": K,
        "max_per_file": K,
        "lexemes": [],
        "idf": [],
        "average_length": 1.0,
        "rrf_k": 60.0,
        "vector_weight": 1.0,
        "text_weight": 1.0,
    }
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        # As the store sets them for an iterative plan, in the same transaction.
        for name, value in (
            ("hnsw.iterative_scan", "relaxed_order"),
            ("hnsw.ef_search", str(plan.ef_search)),
            ("hnsw.max_scan_tuples", str(plan.max_scan_tuples)),
        ):
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
        row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + statement, params).fetchone()
    assert row is not None
    plan_json = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    return _index_names(plan_json)


def plain_hnsw_hits(user_id: str, target: list[float], dimensions: int) -> int:
    """What the index gives for Alice's filter without the iterative scan."""
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("SET LOCAL hnsw.iterative_scan = off")
        conn.execute("SET LOCAL enable_sort = off")  # walk the index, whatever it costs
        statement = sql.SQL(
            "SELECT count(*) FROM (SELECT id FROM chunks WHERE dimensions = {d} "
            "AND user_id = %s ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT {k}) t"
        ).format(d=sql.Literal(dimensions), k=sql.Literal(K))
        row = conn.execute(statement, (user_id, str(target))).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_filtered_search_through_hnsw_returns_k(rag_client):
    apply_env({"STRATUS_RAG_EXACT_SEARCH_MAX_CHUNKS": "0"})  # the index plan for any size
    model, dimensions = embedding_model()
    label = f"{model}:latest"
    query = "renewable energy storage"
    target = embed_text(query, model_dimensions=dimensions)
    _, alice, bob = await users(rag_client)
    bobs, alices = str(uuid.uuid4()), str(uuid.uuid4())

    def load() -> None:
        others = TOTAL - VISIBLE
        texts = [f"bob {i}" for i in range(others)]
        insert_ready_file(bob.id, bobs, points_around(target, 0.002, others, 1), texts, label)
        texts = [f"alice {i}" for i in range(VISIBLE)]
        insert_ready_file(alice.id, alices, points_around(target, 0.2, VISIBLE, 2), texts, label)

    bulk_load(load)
    # GIVEN the planner walks the HNSW index for Alice's search
    assert f"chunks_hnsw_{dimensions}" in indexes_the_app_would_use(
        alice.id, alices, target, dimensions, label
    )
    # AND a plain index scan finds only Bob's chunks before it stops
    assert plain_hnsw_hits(alice.id, target, dimensions) < K
    exact = [
        row[0]
        for row in db_rows(
            "SELECT text FROM chunks WHERE file_id = %s ORDER BY embedding <=> %s::vector LIMIT %s",
            alices,
            str(target),
            K,
        )
    ]
    # WHEN Alice searches her file
    get_metrics().clear_metrics()
    response = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": f"file-{alices}", "query": query, "k": K, "hybrid": False},
        headers=alice.headers,
    )
    # THEN she gets her k nearest, from the index plan (not the exact scan it falls back to)
    assert response.status_code == 200, response.text
    documents = response.json()["documents"][0]
    assert len(documents) == K
    assert all(text.startswith("alice ") for text in documents)
    assert documents == exact
    assert set(get_metrics().metric_set) == {"RetrievalIndexScans", "RetrievalLatency"}
