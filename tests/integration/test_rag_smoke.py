"""Smoke: upload, ready, collection, query."""

from __future__ import annotations

import pytest

from tests.support.rag import rag_client, rag_env, uploaded, users, wait_done

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]


async def test_smoke(rag_client):
    admin, alice, bob = await users(rag_client)
    text = b"The quarterly refund policy allows returns within thirty days.\n\nShipping is free."
    file_id = await uploaded(rag_client, alice, "policy.txt", text)
    status = await wait_done(rag_client, alice, file_id)
    assert status["state"] == "ready", status
    r = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "Docs"}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    kid = r.json()["id"]
    r = await rag_client.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": file_id}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    r = await rag_client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [kid], "query": "refund policy"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    print(r.json())
    r = await rag_client.post(
        "/api/v1/retrieval/query/collection",
        json={"collection_names": [kid], "query": "refund policy"},
        headers=bob.headers,
    )
    assert r.status_code == 404, r.text
