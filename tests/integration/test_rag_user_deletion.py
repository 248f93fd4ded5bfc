"""Deleting a user removes their files, chunks, collections and stored objects, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rag import (
    chunk_count,
    db_rows,
    rag_client,
    rag_env,
    stored_objects,
    uploaded,
    users,
)

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]


async def test_a_deleted_users_files_and_objects_go_with_them(rag_client, rag_env):
    admin, alice, bob = await users(rag_client)
    alices = await uploaded(rag_client, alice, "a.txt", b"Alice writes about owls.")
    bobs = await uploaded(rag_client, bob, "b.txt", b"Bob writes about bees.")
    await rag_client.post("/api/v1/knowledge/create", json={"name": "A"}, headers=alice.headers)
    response = await rag_client.delete(f"/api/v1/users/{alice.id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert chunk_count(alices) == 0
    assert db_rows("SELECT count(*) FROM files WHERE user_id = %s", alice.id) == [(0,)]
    assert db_rows("SELECT count(*) FROM knowledge WHERE user_id = %s", alice.id) == [(0,)]
    assert stored_objects(Path(rag_env["UPLOAD_DIR"])) == [f"files/{bobs}"]
    assert chunk_count(bobs) == 1
