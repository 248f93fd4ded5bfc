"""Matrix row 2: Bob uses Alice's file or knowledge id, on every route that takes one.

Every attempt is a 404, exactly like an id that does not exist; Alice's data is unchanged; and a
unique canary string from her file never appears in anything Bob receives, nor in anything sent
upstream on his behalf (the emulator records every body it is sent).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.rag import chunk_count, db_rows, rag_client, rag_env, uploaded, users

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]

CANARY = "canary-5d1f7c2a-9be4-4c8e-b7a0-31e6f0c9d8e2"
SECRET = f"Alice's private notes. The vault code is {CANARY}.".encode()
MISSING = "00000000-0000-4000-8000-00000000dead"


def _attempts(file_id: str, knowledge_id: str, bobs_knowledge: str) -> list[tuple[str, str, Any]]:
    """(method, path, request options): every route that takes a file or knowledge id."""
    q = {"query": f"vault code {CANARY}"}
    return [
        ("GET", f"/api/v1/files/{file_id}", {}),
        ("GET", f"/api/v1/files/{file_id}/content", {}),
        ("GET", f"/api/v1/files/{file_id}/process/status", {}),
        ("GET", f"/api/v1/files/{file_id}/process/status?stream=true", {}),
        ("DELETE", f"/api/v1/files/{file_id}", {}),
        ("POST", "/api/v1/retrieval/process/file", {"json": {"file_id": file_id}}),
        ("GET", f"/api/v1/knowledge/{knowledge_id}", {}),
        ("POST", f"/api/v1/knowledge/{knowledge_id}", {"json": {"name": "mine now"}}),
        ("POST", f"/api/v1/knowledge/{knowledge_id}/update", {"json": {"name": "mine now"}}),
        ("DELETE", f"/api/v1/knowledge/{knowledge_id}", {}),
        ("DELETE", f"/api/v1/knowledge/{knowledge_id}/delete", {}),
        ("POST", f"/api/v1/knowledge/{knowledge_id}/file/add", {"json": {"file_id": file_id}}),
        (
            "POST",
            f"/api/v1/knowledge/{knowledge_id}/file/remove",
            {"json": {"file_id": file_id}},
        ),
        # Alice's file into Bob's own collection: the file is what he may not use.
        (
            "POST",
            f"/api/v1/knowledge/{bobs_knowledge}/file/add",
            {"json": {"file_id": file_id}},
        ),
        (
            "POST",
            "/api/v1/retrieval/query/doc",
            {"json": {"collection_name": f"file-{file_id}", **q}},
        ),
        ("POST", "/api/v1/retrieval/query/doc", {"json": {"collection_name": knowledge_id, **q}}),
        (
            "POST",
            "/api/v1/retrieval/query/collection",
            {"json": {"collection_names": [bobs_knowledge, knowledge_id], **q}},
        ),
        (
            "POST",
            "/api/v1/retrieval/query/collection",
            {"json": {"collection_names": [bobs_knowledge, f"file-{file_id}"], **q}},
        ),
    ]


async def test_another_users_ids_are_not_found_everywhere_and_the_canary_never_leaks(
    rag_client, emulator
):
    admin, alice, bob = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "private.txt", SECRET)
    created = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "Private"}, headers=alice.headers
    )
    knowledge_id = created.json()["id"]
    await rag_client.post(
        f"/api/v1/knowledge/{knowledge_id}/file/add",
        json={"file_id": file_id},
        headers=alice.headers,
    )
    bobs_file = await uploaded(rag_client, bob, "bob.txt", b"Bob keeps bees and sells honey.")
    bobs = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "Bees"}, headers=bob.headers
    )
    bobs_knowledge = bobs.json()["id"]
    await rag_client.post(
        f"/api/v1/knowledge/{bobs_knowledge}/file/add",
        json={"file_id": bobs_file},
        headers=bob.headers,
    )
    emulator.reset()  # from here on, everything upstream is on Bob's behalf

    received: list[str] = []
    attempts = _attempts(file_id, knowledge_id, bobs_knowledge)
    for method, path, options in attempts:
        response = await rag_client.request(method, path, headers=bob.headers, **options)
        received.append(response.text + json.dumps(dict(response.headers)))
        assert response.status_code == 404, (method, path, response.text)
        # Indistinguishable from an id that does not exist.
        missing = path.replace(file_id, MISSING).replace(knowledge_id, MISSING)
        body = json.loads(json.dumps(options.get("json", {})).replace(file_id, MISSING))
        body = json.loads(json.dumps(body).replace(knowledge_id, MISSING))
        absent = await rag_client.request(
            method, missing, headers=bob.headers, **({"json": body} if "json" in options else {})
        )
        assert absent.status_code == 404, (method, missing)
        assert absent.json() == response.json(), (method, path)
    # Bob's own things still work, and show nothing of Alice's.
    for path in ("/api/v1/files/", "/api/v1/knowledge/", f"/api/v1/knowledge/{bobs_knowledge}"):
        response = await rag_client.get(path, headers=bob.headers)
        assert response.status_code == 200
        received.append(response.text)
    own = await rag_client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [bobs_knowledge], "query": f"vault code {CANARY}", "k": 10},
        headers=bob.headers,
    )
    assert own.status_code == 200
    assert {m["file_id"] for m in own.json()["metadatas"][0]} == {bobs_file}
    received.append(own.text)

    assert not [text for text in received if CANARY in text]
    upstream = json.dumps(emulator.stats.snapshot()["bodies"])
    # Bob's own query carries the words he typed, and nothing of Alice's text.
    assert "vault code is" not in upstream
    assert "private notes" not in upstream
    assert emulator.stats.requests("POST /api/embed") == 1  # his one legitimate query

    # Alice's data is untouched, and she still finds her canary.
    assert chunk_count(file_id) == 1
    assert db_rows("SELECT name FROM knowledge WHERE id = %s", knowledge_id) == [("Private",)]
    assert db_rows(
        "SELECT count(*) FROM knowledge_files WHERE knowledge_id = %s", knowledge_id
    ) == [(1,)]
    found = await rag_client.post(
        "/api/v1/retrieval/query/doc",
        json={"collection_name": knowledge_id, "query": "vault code"},
        headers=alice.headers,
    )
    assert CANARY in found.json()["documents"][0][0]
    # And an admin may use it (matrix: owner and admins).
    as_admin = await rag_client.get(f"/api/v1/files/{file_id}", headers=admin.headers)
    assert as_admin.status_code == 200
