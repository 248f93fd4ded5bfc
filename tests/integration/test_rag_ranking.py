"""What the ranking does, through Open WebUI's retrieval routes: the text side matches any query
term and ranks by BM25, the result modes, the per-file cap, duplicate chunks, and the text search
configuration as a setting."""

from __future__ import annotations

import pytest

from tests.support.auth import apply_env
from tests.support.rag import db_rows, rag_client, rag_env, uploaded, users

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]

QUERY = "/api/v1/retrieval/query/doc"
COLLECTION_QUERY = "/api/v1/retrieval/query/collection"

GEOTHERMAL = b"Geothermal plants draw heat from deep underground reservoirs."
TIDES = b"Tidal generators capture energy from the rise and fall of the sea."


async def _query(client, account, file_id, query, **options):
    response = await client.post(
        QUERY,
        json={"collection_name": f"file-{file_id}", "query": query, **options},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_text_side_matches_any_query_term(rag_client):
    """A question asked as a sentence: most of its words are in no chunk. With all-terms
    matching the text side found nothing for it (and so added nothing to hybrid)."""
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "geo.txt", GEOTHERMAL)
    # Every word of the question is in some chunk, but no chunk has them all.
    await uploaded(rag_client, alice, "tides.txt", TIDES)
    question = "do geothermal reservoirs or tidal generators capture more energy?"
    found = await _query(rag_client, alice, file_id, question, mode="text")
    assert found["documents"][0] == [GEOTHERMAL.decode()]
    # Stemmed: "reservoirs" and "reservoir" are the same lexeme.
    stemmed = await _query(rag_client, alice, file_id, "a reservoir", mode="text")
    assert len(stemmed["ids"][0]) == 1
    nothing = await _query(rag_client, alice, file_id, "volcanic spaceship", mode="text")
    assert nothing["ids"] == [[]]


async def test_text_mode_ranks_by_bm25_rare_terms_first(rag_client):
    _, alice, _ = await users(rag_client)
    paragraphs = [
        "Energy from the sea: tidal energy, wave energy and ocean energy.",
        "Energy storage with batteries.",
        "Lithium batteries store energy; sodium batteries are cheaper.",
    ]
    # Three files, so that each paragraph is its own chunk.
    ids = [
        await uploaded(rag_client, alice, f"{n}.txt", p.encode()) for n, p in enumerate(paragraphs)
    ]
    created = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "Energy"}, headers=alice.headers
    )
    knowledge_id = created.json()["id"]
    added = await rag_client.post(
        f"/api/v1/knowledge/{knowledge_id}/files/batch/add",
        json=[{"file_id": file_id} for file_id in ids],
        headers=alice.headers,
    )
    assert added.status_code == 200, added.text
    response = await rag_client.post(
        COLLECTION_QUERY,
        json={"collection_names": [knowledge_id], "query": "sodium energy", "mode": "text"},
        headers=alice.headers,
    )
    body = response.json()
    # "sodium" is rare (one chunk), "energy" everywhere: the sodium chunk ranks first, and the
    # rest by how often and how densely they mention energy.
    assert body["documents"][0][0] == paragraphs[2]
    assert body["documents"][0][1] == paragraphs[0]
    scores = body["distances"][0]
    assert scores == sorted(scores, reverse=True)
    assert all(m["similarity"] is None for m in body["metadatas"][0])


async def test_result_modes(rag_client, emulator):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "geo.txt", GEOTHERMAL + b"\n\n" + TIDES)
    embeds = emulator.stats.requests("POST /api/embed")
    text = await _query(rag_client, alice, file_id, "geothermal", mode="text")
    # Text mode needs no embedding: no call to the model host.
    assert emulator.stats.requests("POST /api/embed") == embeds
    assert text["metadatas"][0][0]["similarity"] is None
    vector = await _query(rag_client, alice, file_id, "geothermal", mode="vector")
    top = vector["metadatas"][0][0]
    assert top["score"] == pytest.approx(top["similarity"])
    hybrid = await _query(rag_client, alice, file_id, "geothermal", mode="hybrid")
    # First on both sides: 1/61 + 1/61 with the default constant and weights.
    assert hybrid["metadatas"][0][0]["score"] == pytest.approx(2 / 61)
    # mode wins over Open WebUI's hybrid switch.
    both = await _query(rag_client, alice, file_id, "geothermal", mode="hybrid", hybrid=False)
    assert both["distances"] == hybrid["distances"]
    wrong = await rag_client.post(
        QUERY,
        json={"collection_name": f"file-{file_id}", "query": "x", "mode": "keyword"},
        headers=alice.headers,
    )
    assert wrong.status_code == 422
    assert "mode" in wrong.json()["detail"]


async def test_fusion_weights_and_constant_are_settings(rag_client):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "geo.txt", GEOTHERMAL)
    apply_env(
        {
            "STRATUS_RAG_RRF_K": "10",
            "STRATUS_RAG_RRF_VECTOR_WEIGHT": "0.5",
            "STRATUS_RAG_RRF_TEXT_WEIGHT": "2",
        }
    )
    hybrid = await _query(rag_client, alice, file_id, "geothermal")
    assert hybrid["metadatas"][0][0]["score"] == pytest.approx(0.5 / 11 + 2 / 11)


def _long_file(topic: str, paragraphs: int) -> bytes:
    return "\n\n".join(
        f"Part {n}: {topic} is discussed here at length, {topic} again. " + "Filler. " * 100
        for n in range(paragraphs)
    ).encode()


async def test_max_per_file_keeps_one_long_file_from_crowding_out_the_others(rag_client):
    _, alice, _ = await users(rag_client)
    long = await uploaded(rag_client, alice, "long.txt", _long_file("solar panels", 8))
    short = await uploaded(rag_client, alice, "short.txt", b"Solar cells on a roof.")
    body = {"collection_names": [f"file-{long}", f"file-{short}"], "query": "solar panels"}
    uncapped = await rag_client.post(
        COLLECTION_QUERY, json={**body, "k": 3, "mode": "text"}, headers=alice.headers
    )
    assert [m["file_id"] for m in uncapped.json()["metadatas"][0]] == [long] * 3
    capped = await rag_client.post(
        COLLECTION_QUERY,
        json={**body, "k": 3, "mode": "text", "max_per_file": 2},
        headers=alice.headers,
    )
    files = [m["file_id"] for m in capped.json()["metadatas"][0]]
    assert sorted(files) == sorted([long, long, short])
    # The cap gives way when no other file has anything left: still k results.
    alone = await _query(rag_client, alice, long, "solar panels", k=5, max_per_file=1)
    assert len(alone["ids"][0]) == 5
    zero = await rag_client.post(
        COLLECTION_QUERY, json={**body, "max_per_file": 0}, headers=alice.headers
    )
    assert zero.status_code == 422


async def test_a_file_uploaded_twice_does_not_take_two_slots(rag_client):
    _, alice, _ = await users(rag_client)
    first = await uploaded(rag_client, alice, "a.txt", GEOTHERMAL)
    second = await uploaded(rag_client, alice, "b.txt", GEOTHERMAL)
    other = await uploaded(rag_client, alice, "c.txt", TIDES)
    response = await rag_client.post(
        COLLECTION_QUERY,
        json={
            "collection_names": [f"file-{first}", f"file-{second}", f"file-{other}"],
            "query": "geothermal heat",
            "k": 3,
        },
        headers=alice.headers,
    )
    documents = response.json()["documents"][0]
    assert documents.count(GEOTHERMAL.decode()) == 1
    assert TIDES.decode() in documents


async def test_the_text_search_configuration_is_a_setting(rag_client):
    """english stems ("running" finds "runs"); simple only lowercases. Changing the setting
    rebuilds the postings on the next search: no migration by hand."""
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "run.txt", b"The river runs to the sea.")
    english = await _query(rag_client, alice, file_id, "running", mode="text")
    assert len(english["ids"][0]) == 1
    apply_env({"STRATUS_RAG_TEXT_SEARCH_CONFIG": "simple"})
    simple = await _query(rag_client, alice, file_id, "running", mode="text")
    assert simple["ids"] == [[]]
    assert db_rows("SELECT config::text FROM rag_text_index") == [("simple",)]
    exact = await _query(rag_client, alice, file_id, "RUNS", mode="text")
    assert len(exact["ids"][0]) == 1
    # Files ingested after the change are indexed with it.
    later = await uploaded(rag_client, alice, "later.txt", b"Walking by the river.")
    assert (await _query(rag_client, alice, later, "walking", mode="text"))["ids"][0]
    assert not (await _query(rag_client, alice, later, "walk", mode="text"))["ids"][0]
    apply_env({"STRATUS_RAG_TEXT_SEARCH_CONFIG": "english"})
    assert (await _query(rag_client, alice, later, "walk", mode="text"))["ids"][0]
