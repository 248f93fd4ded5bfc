"""Retrieval through Open WebUI's routes: shapes, top-k, the hybrid switch, readiness, models,
and filtered search that returns k results when only 1% of the chunks are visible."""

from __future__ import annotations

import uuid

import pytest

from local.emulator.content import embed_text
from stratus.observability import get_metrics
from tests.support.auth import apply_env
from tests.support.rag import (
    bulk_load,
    db_rows,
    embedding_model,
    insert_ready_file,
    points_around,
    rag_client,
    rag_env,
    upload,
    uploaded,
    users,
)

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]

PARAGRAPHS = [
    "Wind turbines convert moving air into electricity with large rotating blades.",
    "Solar panels turn sunlight into electricity using photovoltaic cells.",
    "Hydroelectric dams store water and release it through turbines.",
    "Geothermal plants draw heat from deep underground reservoirs.",
    "Tidal generators capture energy from the rise and fall of the sea.",
]
DOCUMENT = "\n\n".join(p * 12 for p in PARAGRAPHS).encode()


async def _collection(client, account, file_ids):
    created = await client.post(
        "/api/v1/knowledge/create", json={"name": "Energy"}, headers=account.headers
    )
    knowledge_id = created.json()["id"]
    for file_id in file_ids:
        added = await client.post(
            f"/api/v1/knowledge/{knowledge_id}/file/add",
            json={"file_id": file_id},
            headers=account.headers,
        )
        assert added.status_code == 200, added.text
    return knowledge_id


async def test_query_doc_returns_open_webuis_shape_best_first(rag_client):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "energy.txt", DOCUMENT)
    response = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": f"file-{file_id}", "query": "sunlight photovoltaic"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"ids", "documents", "metadatas", "distances"}
    assert len(body["documents"][0]) == 3  # RAG_TOP_K's default
    assert "Solar panels" in body["documents"][0][0]
    first = body["metadatas"][0][0]
    assert first["file_id"] == file_id
    assert first["name"] == "energy.txt"
    assert first["source"] == "energy.txt"
    assert first["position"] == 1
    scores = body["distances"][0]
    assert scores == sorted(scores, reverse=True)


async def test_k_is_honoured_and_bounded(rag_client):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "energy.txt", DOCUMENT)
    name = f"file-{file_id}"
    one = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": name, "query": "energy", "k": 1},
        headers=alice.headers,
    )
    assert len(one.json()["ids"][0]) == 1
    many = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": name, "query": "energy", "k": 50},
        headers=alice.headers,
    )
    assert len(many.json()["ids"][0]) == 5  # every chunk there is
    too_many = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": name, "query": "energy", "k": 101},
        headers=alice.headers,
    )
    assert too_many.status_code == 422
    assert "k" in too_many.json()["detail"]


async def test_hybrid_is_on_by_default_and_switchable_per_request(rag_client):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "energy.txt", DOCUMENT)
    body = {"collection_name": f"file-{file_id}", "query": "geothermal heat underground"}
    hybrid = await rag_client.post("/api/v1/retrieval/query/doc", json=body, headers=alice.headers)
    vector = await rag_client.post(
        "/api/v1/retrieval/query/doc", json={**body, "hybrid": False}, headers=alice.headers
    )
    top_hybrid = hybrid.json()["metadatas"][0][0]
    top_vector = vector.json()["metadatas"][0][0]
    assert top_hybrid["position"] == top_vector["position"] == 3
    # Fused: reciprocal ranks of both lists, at most 2/61 when first in both.
    assert top_hybrid["score"] == pytest.approx(2 / 61)
    # Vector only: the score is the cosine similarity itself.
    assert top_vector["score"] == pytest.approx(top_vector["similarity"])
    assert top_vector["score"] < 1


async def test_the_default_follows_enable_rag_hybrid_search(rag_env):
    from litestar.testing import AsyncTestClient

    from local.composed import create_local_app

    apply_env({"ENABLE_RAG_HYBRID_SEARCH": "false"})
    async with AsyncTestClient(create_local_app()) as client:
        _, alice, _ = await users(client)
        file_id = await uploaded(client, alice, "energy.txt", DOCUMENT)
        response = await client.post(
            "/api/v1/retrieval/query/doc",
            json={"collection_name": f"file-{file_id}", "query": "tidal sea"},
            headers=alice.headers,
        )
    top = response.json()["metadatas"][0][0]
    assert top["score"] == pytest.approx(top["similarity"])


async def test_query_collection_searches_every_named_collection(rag_client):
    _, alice, _ = await users(rag_client)
    energy = await uploaded(rag_client, alice, "energy.txt", DOCUMENT)
    other = await uploaded(rag_client, alice, "bread.txt", b"Sourdough needs a lively starter.")
    first = await _collection(rag_client, alice, [energy])
    second = await _collection(rag_client, alice, [other])
    response = await rag_client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [first, second], "query": "sourdough starter", "k": 2},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadatas"][0][0]["file_id"] == other


async def test_files_not_ready_are_not_searchable(rag_client, emulator):
    _, alice, _ = await users(rag_client)
    ready = await uploaded(rag_client, alice, "energy.txt", DOCUMENT)
    waiting = (
        await upload(
            rag_client, alice, "bread.txt", b"Sourdough starter.", params={"process": "false"}
        )
    ).json()["id"]
    knowledge_id = await _collection(rag_client, alice, [ready, waiting])
    query = {"collection_names": [knowledge_id], "query": "sourdough starter", "k": 10}
    before = await rag_client.post(
        "/api/v1/retrieval/query/collection", json=query, headers=alice.headers
    )
    assert waiting not in {m["file_id"] for m in before.json()["metadatas"][0]}
    await rag_client.post(
        "/api/v1/retrieval/process/file", json={"file_id": waiting}, headers=alice.headers
    )
    after = await rag_client.post(
        "/api/v1/retrieval/query/collection", json=query, headers=alice.headers
    )
    assert after.json()["metadatas"][0][0]["file_id"] == waiting


async def test_nothing_searchable_means_no_upstream_call(rag_client, emulator):
    _, alice, _ = await users(rag_client)
    knowledge_id = await _collection(rag_client, alice, [])
    embeds = emulator.stats.requests("POST /api/embed")
    response = await rag_client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [knowledge_id], "query": "anything"},
        headers=alice.headers,
    )
    assert response.json()["ids"] == [[]]
    assert emulator.stats.requests("POST /api/embed") == embeds


async def test_chunks_of_another_model_give_a_clear_409(rag_client, emulator):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "energy.txt", DOCUMENT)
    apply_env({"RAG_EMBEDDING_MODEL": "another-embedder"})
    embeds = emulator.stats.requests("POST /api/embed")
    response = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": f"file-{file_id}", "query": "wind"},
        headers=alice.headers,
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "another-embedder:latest" in detail
    assert "process/file" in detail
    assert emulator.stats.requests("POST /api/embed") == embeds


async def test_a_filtered_search_returns_k_when_one_percent_is_visible(rag_client):
    """10k chunks, 100 of them Alice's. Bob's 9,900 sit right around the query, so the first
    neighbours HNSW finds are all his: a plain index scan filtered to Alice returns almost
    nothing. Both plans (an exact scan over her chunks, chosen for so few, and the iterative
    index scan, forced here) return her k nearest, exactly as an exact scan ranks them."""
    model, dimensions = embedding_model()
    label = f"{model}:latest"
    query = "renewable energy storage"
    target = embed_text(query, model_dimensions=dimensions)
    _, alice, bob = await users(rag_client)
    bobs, alices = str(uuid.uuid4()), str(uuid.uuid4())

    def load() -> None:
        texts = [f"bob {i}" for i in range(9_900)]
        insert_ready_file(bob.id, bobs, points_around(target, 0.002, 9_900, 1), texts, label)
        texts = [f"alice {i}" for i in range(100)]
        insert_ready_file(alice.id, alices, points_around(target, 0.2, 100, 2), texts, label)

    bulk_load(load)
    exact = [
        row[0]
        for row in db_rows(
            "SELECT text FROM chunks WHERE file_id = %s ORDER BY embedding <=> %s::vector LIMIT 10",
            alices,
            str(target),
        )
    ]
    body = {"collection_name": f"file-{alices}", "query": query, "k": 10, "hybrid": False}
    for exact_max, plan in (("20000", "RetrievalExactScans"), ("0", "RetrievalIndexScans")):
        apply_env({"STRATUS_RAG_EXACT_SEARCH_MAX_CHUNKS": exact_max})
        get_metrics().clear_metrics()
        response = await rag_client.post(
            "/api/v1/retrieval/query/doc", json=body, headers=alice.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["documents"][0] == exact, exact_max
        # The plan that answered (the index scan did not fall back to an exact one).
        assert set(get_metrics().metric_set) >= {plan, "RetrievalLatency"}
        assert len(get_metrics().metric_set) == 2
    # What plain HNSW gives for the same filter: the failure this test would catch.
    assert _plain_hnsw_hits(alice.id, target, dimensions) < 10


def _plain_hnsw_hits(user_id: str, target: list[float], dimensions: int) -> int:
    import os

    import psycopg
    from psycopg import sql

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        # Make the planner walk the index, as it does when the filter looks unselective.
        conn.execute("SET LOCAL enable_sort = off")
        conn.execute("SET LOCAL hnsw.iterative_scan = off")
        statement = sql.SQL(
            "SELECT count(*) FROM (SELECT id FROM chunks WHERE dimensions = {d} "
            "AND user_id = %s ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT 10) t"
        ).format(d=sql.Literal(dimensions))
        row = conn.execute(statement, (user_id, str(target))).fetchone()
    assert row is not None
    return int(row[0])
