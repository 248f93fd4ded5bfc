"""Files through the HTTP API: upload, status, list, download, delete, limits, hostile content.

Real Postgres + pgvector, the local object store and the model-host emulator.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from local.composed import create_local_app
from tests.support.auth import apply_env, unique_email
from tests.support.documents import make_docx, make_docx_bomb, make_pdf
from tests.support.live_server import live_server
from tests.support.log_capture import remember
from tests.support.rag import (
    chunk_count,
    db_rows,
    rag_client,
    rag_env,
    stored_objects,
    upload,
    uploaded,
    users,
    wait_done,
)

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]

TEXT = b"Solar panels convert sunlight into electricity.\n\nBatteries store it for the night."


def _uploads(env: dict[str, str]) -> Path:
    return Path(env["UPLOAD_DIR"])


async def test_a_small_file_is_ready_when_the_upload_answers(rag_client, rag_env):
    _, alice, _ = await users(rag_client)
    response = await upload(rag_client, alice, "energy notes.txt", TEXT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filename"] == "energy notes.txt"
    assert body["meta"] == {
        "name": "energy notes.txt",
        "content_type": "text/plain",
        "size": len(TEXT),
    }
    assert body["data"] == {"status": "completed", "state": "ready", "error": None}
    assert body["chunks"] == 1
    assert body["user_id"] == alice.id
    status = await rag_client.get(
        f"/api/v1/files/{body['id']}/process/status", headers=alice.headers
    )
    assert status.json() == {"status": "completed", "state": "ready", "error": None}
    # The object is stored under a key the server chose; the name appears nowhere in it.
    assert stored_objects(_uploads(rag_env)) == [f"files/{body['id']}"]
    assert chunk_count(body["id"]) == 1


async def test_list_and_get_show_only_the_callers_files(rag_client):
    _, alice, bob = await users(rag_client)
    mine = await uploaded(rag_client, alice, "a.txt", TEXT)
    theirs = await uploaded(rag_client, bob, "b.txt", TEXT)
    listed = await rag_client.get("/api/v1/files/", headers=alice.headers)
    assert [f["id"] for f in listed.json()] == [mine]
    assert (await rag_client.get(f"/api/v1/files/{mine}", headers=alice.headers)).json()[
        "id"
    ] == mine
    for path in (f"/api/v1/files/{theirs}", f"/api/v1/files/{theirs}/process/status"):
        response = await rag_client.get(path, headers=alice.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "File not found"}


async def test_downloads_are_attachments_that_never_render(rag_client):
    _, alice, _ = await users(rag_client)
    html = b"<html><body><script>alert(1)</script><p>Hello</p></body></html>"
    file_id = await uploaded(rag_client, alice, 'page "x".html', html)
    response = await rag_client.get(f"/api/v1/files/{file_id}/content", headers=alice.headers)
    assert response.status_code == 200
    assert response.content == html
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"page _x_.html\"; filename*=UTF-8''page%20%22x%22.html"
    )


async def test_deleting_a_file_removes_its_chunks_and_object_and_nothing_else(rag_client, rag_env):
    _, alice, bob = await users(rag_client)
    doomed = await uploaded(rag_client, alice, "doomed.txt", TEXT)
    kept = await uploaded(rag_client, alice, "kept.txt", TEXT + b" More.")
    others = await uploaded(rag_client, bob, "bob.txt", TEXT)
    created = await rag_client.post(
        "/api/v1/knowledge/create", json={"name": "K"}, headers=alice.headers
    )
    knowledge_id = created.json()["id"]
    for file_id in (doomed, kept):
        await rag_client.post(
            f"/api/v1/knowledge/{knowledge_id}/file/add",
            json={"file_id": file_id},
            headers=alice.headers,
        )
    response = await rag_client.delete(f"/api/v1/files/{doomed}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {"message": "File deleted successfully"}
    assert chunk_count(doomed) == 0
    assert chunk_count(kept) == 1
    assert chunk_count(others) == 1
    assert stored_objects(_uploads(rag_env)) == sorted([f"files/{kept}", f"files/{others}"])
    collection = await rag_client.get(f"/api/v1/knowledge/{knowledge_id}", headers=alice.headers)
    assert [f["id"] for f in collection.json()["files"]] == [kept]
    again = await rag_client.delete(f"/api/v1/files/{doomed}", headers=alice.headers)
    assert again.status_code == 404


async def test_bob_cannot_delete_alices_file(rag_client, rag_env):
    _, alice, bob = await users(rag_client)
    file_id = await uploaded(rag_client, alice, "a.txt", TEXT)
    response = await rag_client.delete(f"/api/v1/files/{file_id}", headers=bob.headers)
    assert response.status_code == 404
    assert chunk_count(file_id) == 1
    assert stored_objects(_uploads(rag_env)) == [f"files/{file_id}"]


def _nothing_stored(env: dict[str, str]) -> None:
    assert stored_objects(_uploads(env)) == []
    assert db_rows("SELECT count(*) FROM files")[0][0] == 0


async def test_wrong_magic_bytes_are_refused_before_anything_is_stored(rag_client, rag_env):
    _, alice, _ = await users(rag_client)
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    for name, data in (("photo.png", png), ("report.pdf", b"not a pdf at all"), ("x.txt", png)):
        response = await upload(rag_client, alice, name, data)
        assert response.status_code == 415, response.text
        assert "Allowed types: txt, md, html, csv, json, pdf or docx" in response.json()["detail"]
    _nothing_stored(rag_env)


async def test_a_zip_bomb_docx_is_refused_quickly_before_any_parse(rag_client, rag_env, emulator):
    _, alice, _ = await users(rag_client)
    bomb = make_docx_bomb(400)
    started = time.monotonic()
    response = await upload(rag_client, alice, "innocent.docx", bomb)
    elapsed = time.monotonic() - started
    assert response.status_code == 413, response.text
    assert "ZIP bomb" in response.json()["detail"]
    assert elapsed < 2.0
    _nothing_stored(rag_env)
    assert emulator.stats.requests("POST /api/embed") == 0


async def _client_with(values: dict[str, str]) -> AsyncTestClient[Any]:
    apply_env(values)
    return AsyncTestClient(create_local_app())


async def test_an_oversize_upload_is_refused_with_413(rag_env):
    async with await _client_with({"RAG_FILE_MAX_SIZE": "0.01"}) as client:  # 10485 bytes
        _, alice, _ = await users(client)
        at_limit = b"a" * 10_485
        assert (await upload(client, alice, "ok.txt", at_limit)).status_code == 200
        over = await upload(client, alice, "big.txt", b"a" * 10_486)
        assert over.status_code == 413
        assert "RAG_FILE_MAX_SIZE" in over.json()["detail"]
        # Far over: refused while the body streams in, before the form is parsed.
        way_over = await upload(client, alice, "huge.txt", b"a" * 2_000_000)
        assert way_over.status_code == 413
    assert len(stored_objects(_uploads(rag_env))) == 1


def test_the_limit_holds_for_a_streamed_body_without_a_length(rag_env):
    """Chunked transfer: no Content-Length to refuse early, so the count while reading does."""
    apply_env({"RAG_FILE_MAX_SIZE": "0.5"})
    with live_server(create_local_app()) as server, httpx.Client(base_url=server.base_url) as http:
        token = _sync_user(http)
        boundary = "stratusboundary"
        sent = {"bytes": 0}

        def body():
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
            ).encode()
            for _ in range(400):  # 400 x 16 KiB = 6.4 MB, far over 0.5 MB
                sent["bytes"] += 16384
                yield b"a" * 16384
            yield f"\r\n--{boundary}--\r\n".encode()

        try:
            response = http.post(
                "/api/v1/files/",
                content=body(),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            status = response.status_code
        except httpx.TransportError:
            status = 413  # the server may close the connection once it has answered
        assert status == 413
    assert stored_objects(_uploads(rag_env)) == []


def _sync_user(http: httpx.Client) -> str:
    email, password = unique_email(), remember("stream-user-password-1")
    signed = http.post(
        "/api/v1/auths/signup", json={"name": "S", "email": email, "password": password}
    )
    assert signed.status_code == 200, signed.text
    return remember(signed.json()["token"])


async def test_a_pdf_that_burns_cpu_is_abandoned_and_the_api_stays_up(rag_env):
    line = "lorem ipsum dolor sit amet " * 20
    content = (
        "BT /F1 11 Tf 14 TL 72 760 Td " + " ".join(f"({line}) Tj T*" for _ in range(400)) + " ET"
    ).encode()
    heavy = make_pdf([], shared_content=content, page_count=3000, compress=True)
    assert len(heavy) < 1024 * 1024
    async with await _client_with(
        {"STRATUS_RAG_EXTRACT_TIMEOUT": "2", "STRATUS_RAG_MAX_TEXT_CHARS": "1000000000"}
    ) as client:
        _, alice, _ = await users(client)
        started = time.monotonic()
        response = await upload(client, alice, "loop.pdf", heavy)
        assert time.monotonic() - started < 15
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["state"] == "failed"
        assert "CPU time" in data["error"]
        assert "abandoned" in data["error"]
        assert (await client.get("/healthz")).status_code == 200
        fine = await upload(client, alice, "fine.pdf", make_pdf([["A normal page."]]))
        assert fine.json()["data"]["state"] == "ready"
        # No endless retries: the failed file stays failed.
        failed_id = response.json()["id"]
        assert db_rows("SELECT attempts, status FROM files WHERE id = %s", failed_id) == [
            (1, "failed")
        ]


async def test_a_pdf_that_blows_memory_is_abandoned(rag_env):
    content = b"BT /F1 11 Tf " + b"(ab) Tj " * 6_000_000 + b"ET"
    greedy = make_pdf([], shared_content=content, page_count=1, compress=True)
    assert len(greedy) < 200_000
    async with await _client_with({"STRATUS_RAG_EXTRACT_MEMORY_MB": "256"}) as client:
        _, alice, _ = await users(client)
        response = await upload(client, alice, "greedy.pdf", greedy)
        data = response.json()["data"]
        assert data["state"] == "failed"
        assert "memory" in data["error"]
        assert (await client.get("/healthz")).status_code == 200


async def test_pdf_and_docx_text_is_extracted(rag_client):
    _, alice, _ = await users(rag_client)
    pdf = await uploaded(rag_client, alice, "a.pdf", make_pdf([["Turbines spin in wind."]]))
    docx = await uploaded(rag_client, alice, "b.docx", make_docx(["Dams hold water back."]))
    assert (await wait_done(rag_client, alice, pdf))["state"] == "ready"
    assert (await wait_done(rag_client, alice, docx))["state"] == "ready"
    texts = {row[0] for row in db_rows("SELECT text FROM chunks")}
    assert texts == {"Turbines spin in wind.", "Dams hold water back."}


async def test_a_file_stored_without_processing_waits_until_asked(rag_client, emulator):
    _, alice, _ = await users(rag_client)
    response = await upload(rag_client, alice, "later.txt", TEXT, params={"process": "false"})
    file_id = response.json()["id"]
    assert response.json()["data"]["state"] == "pending"
    assert emulator.stats.requests("POST /api/embed") == 0
    processed = await rag_client.post(
        "/api/v1/retrieval/process/file", json={"file_id": file_id}, headers=alice.headers
    )
    assert processed.status_code == 200, processed.text
    assert processed.json()["data"]["state"] == "ready"


async def test_a_model_host_outage_fails_with_a_reason_and_processing_again_works(
    rag_client, emulator
):
    _, alice, _ = await users(rag_client)
    emulator.set_faults(fail_status=503)
    response = await upload(rag_client, alice, "notes.txt", TEXT)
    data = response.json()["data"]
    assert data["state"] == "failed"
    assert "POST /api/v1/retrieval/process/file" in data["error"]
    emulator.set_faults(fail_status=None)
    again = await rag_client.post(
        "/api/v1/retrieval/process/file",
        json={"file_id": response.json()["id"]},
        headers=alice.headers,
    )
    assert again.json()["data"] == {"status": "completed", "state": "ready", "error": None}
    assert chunk_count(response.json()["id"]) == 1


# Hostile names: traversal, separators, unicode look-alikes, quotes, very long ones.
NAMES = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=120),
    st.sampled_from(
        [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "/absolute/path.txt",
            "a\u202etxt.exe",
            "\u2025\u2025\u2215secret",
            'quote".txt',
            "semi;colon.txt",
            "CON",
            "." * 10,
            "\ufeffbom.txt",
            "x" * 300,
        ]
    ),
)


def test_filenames_are_metadata_only_and_download_headers_are_safe(rag_env):
    upload_dir = _uploads(rag_env)
    with live_server(create_local_app()) as server, httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {_sync_user(http)}"}

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(raw=NAMES)
        def check(raw: str) -> None:
            # Raw UTF-8 in the header, as browsers send it; only what would break the framing
            # is escaped, as browsers do, so control characters other than these arrive as is.
            name = raw.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
            boundary = "b0undary"
            body = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\nplain text\r\n'
                f"--{boundary}--\r\n"
            ).encode("utf-8", "surrogatepass")
            response = http.post(
                "/api/v1/files/",
                params={"process": "false"},
                content=body,
                headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            # What the server reads: the form parser undoes exactly those three escapes.
            seen = name.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
            if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in seen) or any(
                "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" for ch in seen
            ):
                assert response.status_code == 422, (name, response.text)
                assert "file" in response.json()["detail"]
                return
            assert response.status_code == 200, (name, response.text)
            record = response.json()
            stored = record["filename"]
            assert "/" not in stored
            assert "\\" not in stored
            assert 0 < len(stored) <= 255
            # The key is the server's: files/<uuid>, whatever the name was.
            assert (upload_dir / "files" / record["id"]).is_file()
            download = http.get(f"/api/v1/files/{record['id']}/content", headers=auth)
            disposition = download.headers["content-disposition"]
            assert disposition.startswith('attachment; filename="')
            fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
            assert all(32 <= ord(ch) < 127 and ch not in '"\\;' for ch in fallback)
            encoded = disposition.split("filename*=UTF-8''", 1)[1]
            assert unquote(encoded) == stored
            assert download.headers["x-content-type-options"] == "nosniff"

        check()
    # Nothing but server-generated keys was ever written.
    assert all(key.startswith("files/") for key in stored_objects(upload_dir))
