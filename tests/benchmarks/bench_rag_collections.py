"""Knowledge collections at scale (part ``rag_collections``): what one add costs at 10 files and at
10,000, Open WebUI's batch add, and a page of the file list.

The files are ready rows written straight into Postgres (adding a file to a collection never
touches its chunks, so they need none); every timed call goes over real HTTP to the composed
app. Before this version each add answered with the whole collection's file list: p50 29 ms at
500 files, about 300 ms at 3,000 and 1,000 ms at 5,000 (issue 19, on a loaded machine).
"""

from __future__ import annotations

import os
import time
import uuid

import httpx

from tests.benchmarks.stats import median, percentile, table

FILES = int(os.environ.get("BENCH_RAG_COLLECTION_FILES", "10000"))
SAMPLES = 30


def _files(url: str, user_id: str, count: int) -> list[str]:
    import psycopg

    ids = [str(uuid.uuid4()) for _ in range(count)]
    with (
        psycopg.connect(url) as conn,
        conn.cursor().copy(
            "COPY files (id, user_id, filename, storage_key, kind, status) FROM STDIN"
        ) as copy,
    ):
        for n, file_id in enumerate(ids):
            copy.write_row((file_id, user_id, f"doc-{n}.txt", f"files/{file_id}", "txt", "ready"))
    return ids


def _timed(call) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return elapsed


def _measure(base_url: str, url: str) -> None:
    client = httpx.Client(base_url=base_url, timeout=120)
    signed = client.post(
        "/api/v1/auths/signup",
        json={"name": "Bench", "email": "bench@example.test", "password": "bench-pass-1"},
    ).json()
    client.headers["Authorization"] = f"Bearer {signed['token']}"
    ids = _files(url, signed["id"], FILES + 2 * SAMPLES)
    knowledge_id = client.post("/api/v1/knowledge/create", json={"name": "Big"}).json()["id"]
    base = f"/api/v1/knowledge/{knowledge_id}"

    def add(file_id: str) -> float:
        return _timed(lambda: client.post(f"{base}/file/add", json={"file_id": file_id}))

    small = [add(file_id) for file_id in ids[:SAMPLES]]
    batches = []
    for start in range(SAMPLES, FILES, 1000):
        chunk = ids[start : min(start + 1000, FILES)]
        batches.append(
            _timed(
                lambda c=chunk: client.post(
                    f"{base}/files/batch/add", json=[{"file_id": f} for f in c]
                )
            )
        )
    big = [add(file_id) for file_id in ids[FILES : FILES + SAMPLES]]
    first_page = [_timed(lambda: client.get(f"{base}/files")) for _ in range(SAMPLES)]
    last = (FILES + SAMPLES) // 30
    last_page = [
        _timed(lambda: client.get(f"{base}/files", params={"page": last})) for _ in range(SAMPLES)
    ]
    whole = [_timed(lambda: client.get(base)) for _ in range(SAMPLES)]

    def row(label: str, timings: list[float], goal: str = "report") -> list[object]:
        return [label, f"{median(timings):.1f}", f"{percentile(timings, 95):.1f}", goal]

    rows = [
        row("file/add, collection of 0-30 files", small),
        row(f"file/add, collection of {FILES:,} files", big, "p50 <= 50 ms"),
        row("files/batch/add, 1,000 files per call", batches),
        row("GET /{id}/files, first page", first_page),
        row(f"GET /{{id}}/files, page {last}", last_page),
        row("GET /{id}", whole),
    ]
    print(f"\n## RAG collections at scale ({SAMPLES} samples each, over HTTP)")
    print(table(["call", "p50 ms", "p95 ms", "goal"], rows))
    print(
        f"One add at {FILES:,} files costs {median(big) / median(small):.2f}x one at 30 or fewer "
        f"(goal: the same; p50 {'met' if median(big) <= 50 else 'NOT met'})."
    )


def main() -> None:
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

    with (
        server_data_dir("stratus-bench-collections-") as scratch,
        embedded_postgres(scratch / "pgdata") as url,
        moto_server() as moto,
        patched_environ(
            {
                **moto.env(),
                "STRATUS_DYNAMODB_TABLE": "bench-collections",
                "DATABASE_URL": url,
                "WEBUI_SECRET_KEY": "bench-collections-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                "STRATUS_DEV_MODE": "true",
                "STRATUS_ARGON2_MEMORY_KIB": "1024",
                "STRATUS_ARGON2_TIME_COST": "1",
                "STRATUS_ARGON2_PARALLELISM": "1",
                "STRATUS_DATA_DIR": str(scratch),
                "LOG_LEVEL": "WARNING",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "UPLOAD_DIR": str(scratch / "uploads"),
            }
        ),
    ):
        apply_migrations(url)
        create_table()
        with live_server(create_local_app()) as server:
            _measure(server.base_url, url)


if __name__ == "__main__":
    main()
