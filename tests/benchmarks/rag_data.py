"""Synthetic but realistic data for the retrieval benchmarks.

Vectors: unit vectors in clusters (topics), the default model's size (768), as real embeddings
of a document collection are. Text: sentences over a Zipf-distributed vocabulary plus each
topic's own words, so full-text search sees common words, rare words and topical overlap.
Loaded with binary COPY (pgvector's adapter) and indexed afterwards, as a bulk load should be.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

DIMENSIONS = 768
TOPICS = 100
TOPIC_WORDS = 30
VOCABULARY = 3000
WORDS_PER_CHUNK = 140
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4))))


@dataclass
class Corpus:
    centers: np.ndarray
    common: list[str]
    topic_words: list[list[str]]
    rng: np.random.Generator

    @classmethod
    def build(cls, seed: int = 11) -> Corpus:
        rng = np.random.default_rng(seed)
        centers = rng.normal(size=(TOPICS, DIMENSIONS))
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        common = list(dict.fromkeys(_word(rng) for _ in range(VOCABULARY * 2)))[:VOCABULARY]
        topic_words = [[_word(rng) + "x" for _ in range(TOPIC_WORDS)] for _ in range(TOPICS)]
        return cls(centers, common, topic_words, rng)

    def vectors(self, topics: np.ndarray, spread: float = 0.03) -> np.ndarray:
        points = self.centers[topics] + self.rng.normal(0, spread, (len(topics), DIMENSIONS))
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        result: np.ndarray = points.astype(np.float32)
        return result

    def text(self, topic: int) -> str:
        ranks = np.minimum(self.rng.zipf(1.3, WORDS_PER_CHUNK), VOCABULARY) - 1
        words = [self.common[r] for r in ranks]
        own = self.topic_words[topic]
        for i in self.rng.choice(WORDS_PER_CHUNK, size=WORDS_PER_CHUNK // 4, replace=False):
            words[i] = own[int(self.rng.integers(len(own)))]
        sentences = [" ".join(words[i : i + 14]).capitalize() + "." for i in range(0, 140, 14)]
        return " ".join(sentences)

    def query(self, topic: int) -> tuple[np.ndarray, str]:
        vector = self.vectors(np.array([topic]), spread=0.035)[0]
        own = self.topic_words[topic]
        words = [own[int(i)] for i in self.rng.choice(len(own), size=3, replace=False)]
        return vector, " ".join([*words, self.common[int(self.rng.integers(200, 2000))]])


def load(
    url: str,
    corpus: Corpus,
    *,
    owner: str,
    chunks: int,
    per_file: int,
    model: str,
    collection: str | None = None,
) -> list[str]:
    """``chunks`` chunks for ``owner`` in files of ``per_file``; returns the file ids."""
    import psycopg
    from pgvector.psycopg import register_vector

    files = []
    with psycopg.connect(url) as conn:
        register_vector(conn)
        with conn.cursor() as cursor:
            for start in range(0, chunks, per_file):
                count = min(per_file, chunks - start)
                file_id = str(uuid.uuid4())
                files.append(file_id)
                cursor.execute(
                    "INSERT INTO files (id, user_id, filename, storage_key, kind, status, "
                    "chunk_count, embedding_model) VALUES (%s, %s, %s, %s, 'txt', 'ready', %s, %s)",
                    (file_id, owner, f"doc-{start}.txt", f"files/{file_id}", count, model),
                )
                if collection:
                    cursor.execute(
                        "INSERT INTO knowledge_files (knowledge_id, file_id) VALUES (%s, %s)",
                        (collection, file_id),
                    )
                topics = corpus.rng.integers(0, TOPICS, size=count)
                vectors = corpus.vectors(topics)
                with cursor.copy(
                    "COPY chunks (file_id, user_id, position, text, embedding, embedding_model, "
                    "dimensions) FROM STDIN WITH (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["text", "text", "int4", "text", "vector", "text", "int4"])
                    for position in range(count):
                        row: list[Any] = [
                            file_id,
                            owner,
                            position,
                            corpus.text(int(topics[position])),
                            vectors[position],
                            model,
                            DIMENSIONS,
                        ]
                        copy.write_row(row)
    return files


def without_index(url: str, work: Any) -> float:
    """Run ``work`` with the 768 HNSW index dropped, rebuild it; the seconds the rebuild took."""
    import time

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        definition = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'chunks_hnsw_768'"
        ).fetchone()
        assert definition is not None
        conn.execute("DROP INDEX chunks_hnsw_768")
        work()
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        started = time.perf_counter()
        conn.execute(definition[0])
        conn.execute("ANALYZE chunks")
        return time.perf_counter() - started
