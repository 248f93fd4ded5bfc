"""The full-text postings and BM25 statistics (migration 0006) stay exact under concurrent
ingestion and deletion: the triggers' counts always equal a recount from the chunks."""

from __future__ import annotations

import os
import threading
import uuid

import psycopg
import pytest

from tests.support.rag import db_rows, insert_ready_file, rag_env

__all__ = ["rag_env"]

WORDS = [
    "solar",
    "wind",
    "tide",
    "river",
    "stone",
    "cloud",
    "light",
    "energy",
    "storage",
    "battery",
    "grid",
    "heat",
]


def _recount() -> dict[str, object]:
    """The statistics recomputed from the chunks themselves."""
    postings = db_rows(
        "SELECT t.lexeme, c.user_id, c.id, c.file_id, t.tf, t.length "
        "FROM chunks c, rag_text_index g, rag_chunk_terms(g.config, c.text) t ORDER BY 1, 3"
    )
    frequencies: dict[str, int] = {}
    for lexeme, *_ in postings:
        frequencies[lexeme] = frequencies.get(lexeme, 0) + 1
    return {
        "postings": postings,
        "frequencies": frequencies,
        "chunks": db_rows("SELECT count(*) FROM chunks")[0][0],
        "tokens": sum(row[4] for row in postings),
    }


def _stored() -> dict[str, object]:
    return {
        "postings": db_rows(
            "SELECT lexeme, user_id, chunk_id, file_id, tf, length FROM chunk_terms ORDER BY 1, 3"
        ),
        "frequencies": dict(db_rows("SELECT lexeme, chunks FROM rag_lexemes WHERE chunks > 0")),
        "chunks": db_rows("SELECT chunks FROM rag_text_index")[0][0],
        "tokens": db_rows("SELECT tokens FROM rag_text_index")[0][0],
    }


def _users(count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for user_id in ids:
        db_rows(
            "INSERT INTO users (id, email, name, role, password_hash) "
            "VALUES (%s, %s, 'u', 'user', 'x')",
            user_id,
            f"{user_id}@example.test",
        )
    return ids


def _texts(seed: int, count: int) -> list[str]:
    return [
        " ".join(WORDS[(seed * 7 + i * 3 + j * j) % len(WORDS)] for j in range(5 + i % 7))
        for i in range(count)
    ]


@pytest.mark.usefixtures("rag_env")
def test_statistics_stay_exact_under_concurrent_ingests_and_deletions():
    users = _users(4)
    vector = [1.0] + [0.0] * 383
    kept = [(users[0], str(uuid.uuid4()), 0)]
    insert_ready_file(users[0], kept[0][1], [vector] * 20, _texts(0, 20), "m")
    doomed = str(uuid.uuid4())
    insert_ready_file(users[1], doomed, [vector] * 30, _texts(1, 30), "m")
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def ingest(worker: int) -> None:
        try:
            start.wait()
            for n in range(5):
                file_id = str(uuid.uuid4())
                texts = _texts(worker * 10 + n, 12)
                insert_ready_file(users[worker % 4], file_id, [vector] * 12, texts, "m")
        except BaseException as exc:
            errors.append(exc)

    def delete() -> None:
        try:
            start.wait()
            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
                conn.execute("DELETE FROM files WHERE id = %s", (doomed,))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
    threads.append(threading.Thread(target=delete))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    stored, recount = _stored(), _recount()
    assert stored["chunks"] == recount["chunks"] == 20 + 4 * 5 * 12
    assert stored["tokens"] == recount["tokens"]
    assert stored["frequencies"] == recount["frequencies"]
    assert stored["postings"] == recount["postings"]
    assert not db_rows("SELECT 1 FROM chunk_terms WHERE file_id = %s", doomed)
    # A user's deletion cascades to the postings and the chunks alike: the counts still hold.
    db_rows("DELETE FROM users WHERE id = %s", users[1])
    stored, recount = _stored(), _recount()
    assert stored == recount
    assert not db_rows("SELECT 1 FROM chunk_terms WHERE user_id = %s", users[1])
