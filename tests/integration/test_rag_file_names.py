"""Upload names through the API: stored, listed and offered back safe (security matrix row 17).

``..`` used to be kept as a name, and a look-alike path (a two-dot leader and division slashes)
was shown unchanged, in lists and in the download's ``Content-Disposition``.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tests.support.rag import db_rows, rag_client, rag_env, upload, users

pytestmark = pytest.mark.anyio
__all__ = ["rag_client", "rag_env"]

LOOK_ALIKE = "\u2025\u2215etc\u2215passwd"


def offered_name(disposition: str) -> tuple[str, str]:
    """(ASCII fallback, exact name) from an RFC 6266 ``attachment`` header."""
    assert disposition.startswith('attachment; filename="')
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    exact = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    return fallback, exact


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("..", "file"), (LOOK_ALIKE, "passwd"), ("\uff0e\uff0e\uff0fnotes.txt", "notes.txt")],
)
async def test_uploaded_names_are_shown_and_offered_safe(rag_client, sent, shown):
    _, alice, _ = await users(rag_client)
    response = await upload(rag_client, alice, sent, b"plain text", params={"process": "false"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["filename"] == shown
    assert record["meta"]["name"] == shown
    listed = await rag_client.get("/api/v1/files/", headers=alice.headers)
    assert [f["filename"] for f in listed.json()] == [shown]
    download = await rag_client.get(f"/api/v1/files/{record['id']}/content", headers=alice.headers)
    assert offered_name(download.headers["content-disposition"]) == (shown, shown)


async def test_names_stored_before_are_offered_safe_too(rag_client):
    _, alice, _ = await users(rag_client)
    response = await upload(rag_client, alice, "a.txt", b"plain text", params={"process": "false"})
    file_id = response.json()["id"]
    # A row written before names were made safe.
    db_rows("UPDATE files SET filename = %s WHERE id = %s", LOOK_ALIKE, file_id)
    got = await rag_client.get(f"/api/v1/files/{file_id}", headers=alice.headers)
    assert got.json()["filename"] == "passwd"
    download = await rag_client.get(f"/api/v1/files/{file_id}/content", headers=alice.headers)
    assert offered_name(download.headers["content-disposition"]) == ("passwd", "passwd")
