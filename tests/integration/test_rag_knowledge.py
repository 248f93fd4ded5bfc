"""Knowledge collections through the API: Open WebUI's routes, reuse of chunks, access, deletion."""

from __future__ import annotations

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

TEXT = b"Hydrogen fuel cells emit only water.\n\nThey need platinum catalysts."


async def _create(client, account, name="Research", description=""):
    response = await client.post(
        "/api/v1/knowledge/create",
        json={"name": name, "description": description},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_create_list_get_update_delete(rag_client):
    _, alice, _ = await users(rag_client)
    created = await _create(rag_client, alice, "Research", "Fuel cells")
    assert created["name"] == "Research"
    assert created["description"] == "Fuel cells"
    assert created["files"] == []
    assert created["user_id"] == alice.id
    listed = await rag_client.get("/api/v1/knowledge/", headers=alice.headers)
    assert listed.json()["total"] == 1
    assert [k["id"] for k in listed.json()["items"]] == [created["id"]]
    path = f"/api/v1/knowledge/{created['id']}"
    renamed = await rag_client.post(
        path, json={"name": "Renamed", "description": "New"}, headers=alice.headers
    )
    assert renamed.json()["name"] == "Renamed"
    # Open WebUI's own update path works too.
    again = await rag_client.post(f"{path}/update", json={"name": "Again"}, headers=alice.headers)
    assert again.json()["name"] == "Again"
    assert again.json()["description"] == ""
    assert (await rag_client.get(path, headers=alice.headers)).json()["name"] == "Again"
    deleted = await rag_client.delete(path, headers=alice.headers)
    assert deleted.status_code == 200
    assert deleted.json() is True
    assert (await rag_client.get(path, headers=alice.headers)).status_code == 404


async def test_open_webuis_delete_path(rag_client):
    _, alice, _ = await users(rag_client)
    created = await _create(rag_client, alice)
    response = await rag_client.delete(
        f"/api/v1/knowledge/{created['id']}/delete", headers=alice.headers
    )
    assert response.json() is True
    assert db_rows("SELECT count(*) FROM knowledge") == [(0,)]


async def test_unknown_fields_are_refused_and_text_rules_apply(rag_client):
    _, alice, _ = await users(rag_client)
    extra = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "K", "user_id": "x"}, headers=alice.headers
    )
    assert extra.status_code == 422
    assert "user_id" in extra.json()["detail"]
    bidi = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "a\u202eb"}, headers=alice.headers
    )
    assert bidi.status_code == 422
    assert "name" in bidi.json()["detail"]


async def test_adding_a_file_reuses_its_chunks_and_embeds_nothing(rag_client, emulator):
    _, alice, _ = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "cells.txt", TEXT)
    chunks_before = db_rows("SELECT id FROM chunks WHERE file_id = %s", file_id)
    embeds = emulator.stats.requests("POST /api/embed")
    first = await _create(rag_client, alice, "One")
    second = await _create(rag_client, alice, "Two")
    for knowledge in (first, second):
        added = await rag_client.post(
            f"/api/v1/knowledge/{knowledge['id']}/file/add",
            json={"file_id": file_id},
            headers=alice.headers,
        )
        assert added.status_code == 200, added.text
        assert [f["id"] for f in added.json()["files"]] == [file_id]
        assert added.json()["files"][0]["data"]["status"] == "completed"
    assert emulator.stats.requests("POST /api/embed") == embeds
    assert db_rows("SELECT id FROM chunks WHERE file_id = %s", file_id) == chunks_before
    # Adding twice is harmless.
    await rag_client.post(
        f"/api/v1/knowledge/{first['id']}/file/add",
        json={"file_id": file_id},
        headers=alice.headers,
    )
    assert db_rows("SELECT count(*) FROM knowledge_files") == [(2,)]


async def test_removing_a_file_deletes_it_as_open_webui_does_unless_told_not_to(
    rag_client, rag_env
):
    _, alice, _ = await users(rag_client)
    kept = await uploaded(rag_client, alice, "kept.txt", TEXT)
    gone = await uploaded(rag_client, alice, "gone.txt", TEXT + b" Also.")
    knowledge = await _create(rag_client, alice)
    base = f"/api/v1/knowledge/{knowledge['id']}"
    for file_id in (kept, gone):
        await rag_client.post(f"{base}/file/add", json={"file_id": file_id}, headers=alice.headers)
    unlinked = await rag_client.post(
        f"{base}/file/remove",
        params={"delete_file": "false"},
        json={"file_id": kept},
        headers=alice.headers,
    )
    assert [f["id"] for f in unlinked.json()["files"]] == [gone]
    assert chunk_count(kept) == 1
    removed = await rag_client.post(
        f"{base}/file/remove", json={"file_id": gone}, headers=alice.headers
    )
    assert removed.json()["files"] == []
    assert chunk_count(gone) == 0
    assert stored_objects(__import__("pathlib").Path(rag_env["UPLOAD_DIR"])) == [f"files/{kept}"]
    missing = await rag_client.post(
        f"{base}/file/remove", json={"file_id": kept}, headers=alice.headers
    )
    assert missing.status_code == 404


async def test_deleting_a_collection_keeps_its_files_unless_asked(rag_client, rag_env):
    _, alice, _ = await users(rag_client)
    shared = await uploaded(rag_client, alice, "shared.txt", TEXT)
    only_here = await uploaded(rag_client, alice, "only.txt", TEXT + b" Only.")
    first = await _create(rag_client, alice, "First")
    second = await _create(rag_client, alice, "Second")
    for knowledge, file_id in ((first, shared), (first, only_here), (second, shared)):
        await rag_client.post(
            f"/api/v1/knowledge/{knowledge['id']}/file/add",
            json={"file_id": file_id},
            headers=alice.headers,
        )
    second_path = f"/api/v1/knowledge/{second['id']}"
    assert (await rag_client.delete(second_path, headers=alice.headers)).json() is True
    assert chunk_count(shared) == 1  # the files stay: still Alice's, still in "First"
    first_path = f"/api/v1/knowledge/{first['id']}"
    response = await rag_client.delete(
        first_path, params={"delete_files": "true"}, headers=alice.headers
    )
    assert response.json() is True
    # Both were only in "First" by now: their chunks and objects went, and nothing else.
    assert chunk_count(shared) == 0
    assert chunk_count(only_here) == 0
    assert db_rows("SELECT count(*) FROM files") == [(0,)]


async def test_collections_are_private_to_their_owner_and_admins(rag_client):
    admin, alice, bob = await users(rag_client)
    knowledge = await _create(rag_client, alice)
    alices_file = await uploaded(rag_client, alice, "a.txt", TEXT)
    bobs_file = await uploaded(rag_client, bob, "b.txt", TEXT)
    path = f"/api/v1/knowledge/{knowledge['id']}"
    assert (await rag_client.get(path, headers=bob.headers)).status_code == 404
    listed = await rag_client.get("/api/v1/knowledge/", headers=bob.headers)
    assert listed.json() == {"items": [], "total": 0}
    # Alice cannot add Bob's file to her collection: his file is "not found" to her.
    refused = await rag_client.post(
        f"{path}/file/add", json={"file_id": bobs_file}, headers=alice.headers
    )
    assert refused.status_code == 404
    assert refused.json() == {"detail": "File not found"}
    # An admin can see and change it.
    assert (await rag_client.get(path, headers=admin.headers)).status_code == 200
    added = await rag_client.post(
        f"{path}/file/add", json={"file_id": alices_file}, headers=admin.headers
    )
    assert added.status_code == 200


async def test_batch_add_links_many_files_and_names_the_ones_it_left_out(rag_client):
    """Open WebUI's batch add; someone else's file is refused like a missing one (matrix row 2)."""
    _, alice, bob = await users(rag_client)
    mine = [await uploaded(rag_client, alice, f"{n}.txt", TEXT) for n in range(3)]
    bobs = await uploaded(rag_client, bob, "bob.txt", TEXT)
    knowledge_id = (await _create(rag_client, alice))["id"]
    response = await rag_client.post(
        f"/api/v1/knowledge/{knowledge_id}/files/batch/add",
        json=[{"file_id": f} for f in [*mine, bobs, "no-such-file", mine[0]]],
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(f["id"] for f in body["files"]) == sorted(mine)
    assert body["warnings"]["errors"] == [f"{bobs}: File not found", "no-such-file: File not found"]
    assert db_rows(
        "SELECT count(*) FROM knowledge_files WHERE knowledge_id = %s", knowledge_id
    ) == [(3,)]
    # Bob cannot add to Alice's collection at all.
    refused = await rag_client.post(
        f"/api/v1/knowledge/{knowledge_id}/files/batch/add",
        json=[{"file_id": bobs}],
        headers=bob.headers,
    )
    assert refused.status_code == 404
    empty = await rag_client.post(
        f"/api/v1/knowledge/{knowledge_id}/files/batch/add", json=[], headers=alice.headers
    )
    assert empty.status_code == 422


async def test_a_collections_files_come_a_page_at_a_time(rag_client):
    """Every collection answer carries the first 30 files only, so adding a file costs the same
    however many the collection holds; GET /{id}/files pages through all of them."""
    _, alice, _ = await users(rag_client)
    ids = [await uploaded(rag_client, alice, f"{n}.txt", f"Note {n}.".encode()) for n in range(32)]
    knowledge_id = (await _create(rag_client, alice))["id"]
    for file_id in ids[:31]:
        added = await rag_client.post(
            f"/api/v1/knowledge/{knowledge_id}/file/add",
            json={"file_id": file_id},
            headers=alice.headers,
        )
        assert added.status_code == 200
    last = await rag_client.post(
        f"/api/v1/knowledge/{knowledge_id}/files/batch/add",
        json=[{"file_id": ids[31]}],
        headers=alice.headers,
    )
    assert [f["id"] for f in last.json()["files"]] == ids[:30]
    assert "warnings" not in last.json() or last.json()["warnings"] is None
    path = f"/api/v1/knowledge/{knowledge_id}/files"
    first = (await rag_client.get(path, headers=alice.headers)).json()
    second = (await rag_client.get(path, params={"page": 2}, headers=alice.headers)).json()
    assert first["total"] == second["total"] == 32
    assert [f["id"] for f in first["items"] + second["items"]] == ids
    beyond = (await rag_client.get(path, params={"page": 3}, headers=alice.headers)).json()
    assert beyond == {"items": [], "total": 32}
