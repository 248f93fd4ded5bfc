"""Ingestion is idempotent: events twice, failures half-way, workers racing, retries bounded.

The ingest handler runs with the recorded S3 events in tests/events, twice, against real
Postgres, moto's S3 and the model-host emulator (through a proxy that fails chosen calls).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from functions.rag.ingest.pipeline import Ingestor
from local.composed import create_local_app
from local.lambda_context import LocalLambdaContext
from stratus.settings import rag_settings
from stratus.storage import get_object_store
from tests.support.auth import apply_env, unique_email
from tests.support.fault_proxy import embed_fault_proxy
from tests.support.live_server import live_server
from tests.support.log_capture import remember
from tests.support.rag import chunk_count, db_rows, rag_env

__all__ = ["rag_env"]

EVENTS = Path(__file__).resolve().parents[1] / "events"
PLACEHOLDER = "files/00000000-0000-4000-8000-000000000000"
# Eight paragraphs of about 900 characters: eight chunks of the default size.
DOCUMENT = "\n\n".join(
    f"Section {i}. " + " ".join(f"topic{i} detail{j} remark." for j in range(35)) for i in range(8)
).encode()


def event(name: str, key: str, bucket: str) -> dict[str, Any]:
    recorded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    record = copy.deepcopy(recorded)
    for item in record["Records"]:
        if item["s3"]["object"]["key"] == PLACEHOLDER:
            item["s3"]["object"]["key"] = key
        item["s3"]["bucket"]["name"] = bucket
    return record


@pytest.fixture
def ingest_handler(rag_env) -> Iterator[Any]:
    """The ingest entry point, cold: its module reloaded, its loop's resources closed after."""
    from stratus.web.plugin import close_resources
    from tests.handler.lambda_runtime import fresh_handler_module

    module = fresh_handler_module("rag")
    yield lambda ev: module.ingest_handler(ev, LocalLambdaContext(function_name="stratus-rag"))
    if module._loop:
        loop = module._loop[0]
        loop.run_until_complete(close_resources())
        loop.close()
    # The module's init built the HTTP handler's resources on Mangum's loop: closed too.
    mangum_loop = asyncio.get_event_loop_policy().get_event_loop()
    if not mangum_loop.is_running() and not mangum_loop.is_closed():
        mangum_loop.run_until_complete(close_resources())


@pytest.fixture
def s3_bucket(rag_env) -> str:
    """A fresh bucket in moto, and the settings of a deployment that stores files in S3 and
    leaves processing of anything but small files to S3's object-created events."""
    bucket = f"stratus-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    apply_env(
        {
            "STORAGE_PROVIDER": "s3",
            "S3_BUCKET_NAME": bucket,
            "STRATUS_RAG_ASYNC_INGEST": "s3-event",
            "STRATUS_RAG_INLINE_MAX_BYTES": "0",
        }
    )
    return bucket


class Api:
    """A signed-in user over real HTTP (the ingest handler needs a loop of its own)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        email, password = unique_email(), remember("ingest-user-password-1")
        signed = http.post(
            "/api/v1/auths/signup", json={"name": "I", "email": email, "password": password}
        )
        assert signed.status_code == 200, signed.text
        self.headers = {"Authorization": f"Bearer {remember(signed.json()['token'])}"}

    def upload(self, name: str, data: bytes, **params: str) -> dict[str, Any]:
        response = self.http.post(
            "/api/v1/files/",
            files={"file": (name, data, "text/plain")},
            params=params,
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def state(self, file_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/files/{file_id}/process/status", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(rag_env) -> Iterator[Api]:
    with live_server(create_local_app()) as server, httpx.Client(base_url=server.base_url) as http:
        yield Api(http)


def _positions(file_id: str) -> list[int]:
    rows = db_rows("SELECT position FROM chunks WHERE file_id = %s ORDER BY position", file_id)
    return [row[0] for row in rows]


def test_the_same_s3_event_twice_leaves_one_set_of_chunks(s3_bucket, api, ingest_handler, emulator):
    record = api.upload("report.txt", DOCUMENT)
    assert record["data"]["state"] == "pending"  # left to the S3 event
    key = f"files/{record['id']}"
    assert boto3.client("s3").get_object(Bucket=s3_bucket, Key=key)["Body"].read() == DOCUMENT

    first = ingest_handler(event("s3_object_created_put", key, s3_bucket))
    calls = emulator.stats.requests("POST /api/embed")
    second = ingest_handler(event("s3_object_created_put", key, s3_bucket))

    assert first == {"files": [{"id": record["id"], "status": "ready"}]}
    assert second == {"files": [{"id": record["id"], "status": "skipped"}]}
    assert emulator.stats.requests("POST /api/embed") == calls  # nothing embedded twice
    assert _positions(record["id"]) == list(range(8))
    assert api.state(record["id"]) == {"status": "completed", "state": "ready", "error": None}


def test_events_for_other_objects_change_nothing(s3_bucket, api, ingest_handler, emulator):
    record = api.upload("report.txt", DOCUMENT)
    key = f"files/{record['id']}"
    for name in ("s3_object_removed", "s3_object_created_elsewhere"):
        assert ingest_handler(event(name, key, s3_bucket)) == {"files": []}
    # Another bucket's event for the same key is not ours either.
    assert ingest_handler(event("s3_object_created_put", key, "someone-elses-bucket")) == {
        "files": []
    }
    assert api.state(record["id"])["state"] == "pending"
    assert emulator.stats.requests("POST /api/embed") == 0


def test_a_failure_half_way_leaves_no_chunks_and_the_retry_leaves_one_set(
    s3_bucket, api, ingest_handler, emulator
):
    from functions.rag.handler import RetryLaterError

    with embed_fault_proxy(emulator.base_url) as (proxy_url, faults):
        apply_env({"OLLAMA_BASE_URL": proxy_url, "RAG_EMBEDDING_BATCH_SIZE": "2"})
        record = api.upload("report.txt", DOCUMENT)
        key = f"files/{record['id']}"
        faults.fail_calls = {3}  # batches 1 and 2 succeed, batch 3 of 4 fails
        with pytest.raises(RetryLaterError):
            ingest_handler(event("s3_object_created_put", key, s3_bucket))
        assert faults.calls == 3
        assert chunk_count(record["id"]) == 0
        state = api.state(record["id"])
        assert state["state"] == "pending"
        assert db_rows("SELECT attempts FROM files WHERE id = %s", record["id"]) == [(1,)]

        # Lambda delivers the event again: this time every batch succeeds.
        assert ingest_handler(event("s3_object_created_put", key, s3_bucket))["files"] == [
            {"id": record["id"], "status": "ready"}
        ]
        assert faults.calls == 3 + 4
        # And a duplicate delivery after that changes nothing.
        ingest_handler(event("s3_object_created_put", key, s3_bucket))
        assert faults.calls == 7
    assert _positions(record["id"]) == list(range(8))


def test_retries_stop_after_the_configured_attempts(s3_bucket, api, ingest_handler, emulator):
    from functions.rag.handler import RetryLaterError

    with embed_fault_proxy(emulator.base_url) as (proxy_url, faults):
        apply_env({"OLLAMA_BASE_URL": proxy_url, "STRATUS_RAG_INGEST_MAX_ATTEMPTS": "3"})
        record = api.upload("report.txt", DOCUMENT)
        key = f"files/{record['id']}"
        faults.fail_all = True
        for _ in range(2):
            with pytest.raises(RetryLaterError):
                ingest_handler(event("s3_object_created_put", key, s3_bucket))
        third = ingest_handler(event("s3_object_created_put", key, s3_bucket))
        assert third["files"] == [{"id": record["id"], "status": "failed"}]
        fourth = ingest_handler(event("s3_object_created_put", key, s3_bucket))
        assert fourth["files"] == [{"id": record["id"], "status": "skipped"}]
        assert faults.calls == 3
    state = api.state(record["id"])
    assert state["status"] == "failed"
    assert "Gave up after 3 attempts" in state["error"]


def _ingestor() -> Ingestor:
    return Ingestor(get_object_store(), rag_settings())


def test_two_workers_at_once_write_one_set(api, emulator):
    with embed_fault_proxy(emulator.base_url) as (proxy_url, faults):
        apply_env({"OLLAMA_BASE_URL": proxy_url})
        record = api.upload("report.txt", DOCUMENT, process="false")
        faults.delay = 0.5

        async def both() -> list[Any]:
            from stratus.db import close_pool
            from stratus.modelhost import close_model_host

            try:
                return list(
                    await asyncio.gather(
                        _ingestor().ingest(record["id"]), _ingestor().ingest(record["id"])
                    )
                )
            finally:
                await close_model_host()
                await close_pool()

        outcomes = asyncio.run(both())
    assert sorted(o.status for o in outcomes) == ["ready", "skipped"]
    assert faults.calls == 1
    assert _positions(record["id"]) == list(range(8))


def test_a_stale_worker_cannot_write_after_its_claim_was_taken_over(api, emulator):
    """Worker 1 stalls past the stale limit; worker 2 takes the file over and finishes. When
    worker 1 wakes up, its claim token no longer matches: it writes nothing."""
    with embed_fault_proxy(emulator.base_url) as (proxy_url, faults):
        apply_env({"OLLAMA_BASE_URL": proxy_url, "STRATUS_RAG_PROCESSING_STALE_SECONDS": "1"})
        record = api.upload("report.txt", DOCUMENT, process="false")
        faults.delay = 2.0

        async def race() -> list[Any]:
            from stratus.db import close_pool
            from stratus.modelhost import close_model_host

            async def late_second() -> Any:
                await asyncio.sleep(1.3)  # worker 1's claim is stale by now
                faults.delay = 0.0
                return await _ingestor().ingest(record["id"])

            try:
                return list(await asyncio.gather(_ingestor().ingest(record["id"]), late_second()))
            finally:
                await close_model_host()
                await close_pool()

        first, second = asyncio.run(race())
    assert second.status == "ready"
    assert first.status == "skipped"
    assert _positions(record["id"]) == list(range(8))
    assert db_rows("SELECT attempts, status FROM files WHERE id = %s", record["id"]) == [
        (2, "ready")
    ]


def test_chunks_are_embedded_in_batches(api, emulator):
    apply_env({"RAG_EMBEDDING_BATCH_SIZE": "3"})
    record = api.upload("report.txt", DOCUMENT)
    assert record["data"]["state"] == "ready"
    assert record["chunks"] == 8
    assert emulator.stats.requests("POST /api/embed") == math.ceil(8 / 3)
    sizes = [len(body["input"]) for body in emulator.stats.bodies("/api/embed")]
    assert sizes == [3, 3, 2]


def test_the_openai_compatible_engine_batches_too(api, emulator):
    apply_env(
        {
            "RAG_EMBEDDING_ENGINE": "openai",
            "RAG_OPENAI_API_BASE_URL": emulator.base_url + "/v1",
            "RAG_EMBEDDING_BATCH_SIZE": "5",
        }
    )
    record = api.upload("report.txt", DOCUMENT)
    assert record["data"]["state"] == "ready"
    assert emulator.stats.requests("POST /v1/embeddings") == 2
    assert emulator.stats.requests("POST /api/embed") == 0


def test_a_large_upload_is_processed_in_the_background_locally(api, emulator):
    apply_env({"STRATUS_RAG_INLINE_MAX_BYTES": "100"})
    record = api.upload("report.txt", DOCUMENT)
    assert record["data"]["state"] in ("pending", "processing")
    from functions.rag.ingest import background

    assert background.drain(30)
    assert api.state(record["id"])["state"] == "ready"
    assert chunk_count(record["id"]) == 8


def test_a_dimension_mismatch_fails_with_a_clear_reason(api, emulator):
    _, dimensions = _model()
    apply_env({"STRATUS_RAG_EMBEDDING_DIMENSIONS": "100"})
    record = api.upload("report.txt", DOCUMENT)
    assert record["data"]["state"] == "failed"
    assert (
        f"returned {dimensions}-dimensional vectors, but STRATUS_RAG_EMBEDDING_DIMENSIONS is 100"
        in record["data"]["error"]
    )
    assert chunk_count(record["id"]) == 0


def _model() -> tuple[str, int]:
    from tests.support.rag import embedding_model

    return embedding_model()


def test_a_presigned_upload_is_ingested_by_its_s3_event(s3_bucket, api, ingest_handler, emulator):
    response = api.http.post(
        "/api/v1/files/upload-url", json={"filename": "big report.txt"}, headers=api.headers
    )
    assert response.status_code == 200, response.text
    grant = response.json()
    assert grant["file"]["data"]["state"] == "pending"
    assert grant["max_size"] == rag_settings().file_max_bytes
    posted = httpx.post(
        grant["url"], data=grant["fields"], files={"file": ("x", DOCUMENT, "text/plain")}
    )
    assert posted.status_code in (200, 204), posted.text
    key = grant["fields"]["key"]
    assert key == f"files/{grant['id']}"
    result = ingest_handler(event("s3_object_created_post", key, s3_bucket))
    assert result == {"files": [{"id": grant["id"], "status": "ready"}]}
    assert api.state(grant["id"])["state"] == "ready"
    assert chunk_count(grant["id"]) == 8


def test_a_presigned_upload_over_the_limit_is_refused(s3_bucket, api, ingest_handler):
    """S3 enforces the signed size range itself (moto does not, so the policy is checked here);
    the ingest handler checks the size again before reading the object."""
    import base64

    apply_env({"RAG_FILE_MAX_SIZE": "0.001"})  # 1048 bytes
    grant = api.http.post(
        "/api/v1/files/upload-url", json={"filename": "x.txt"}, headers=api.headers
    ).json()
    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    assert ["content-length-range", 1, 1048] in policy["conditions"]
    posted = httpx.post(
        grant["url"], data=grant["fields"], files={"file": ("x", b"a" * 5000, "text/plain")}
    )
    assert posted.status_code in (200, 204, 400)
    if posted.status_code == 400:
        return  # a real S3 refuses it outright
    result = ingest_handler(event("s3_object_created_post", grant["fields"]["key"], s3_bucket))
    assert result == {"files": [{"id": grant["id"], "status": "failed"}]}
    state = api.state(grant["id"])
    assert "RAG_FILE_MAX_SIZE" in state["error"]


def test_presigned_uploads_need_s3(api):
    response = api.http.post(
        "/api/v1/files/upload-url", json={"filename": "x.txt"}, headers=api.headers
    )
    assert response.status_code == 400
    assert "STORAGE_PROVIDER=s3" in response.json()["detail"]
    assert db_rows("SELECT count(*) FROM files") == [(0,)]


def test_the_ingest_handler_publishes_metrics(s3_bucket, api, ingest_handler, capsys):
    from stratus.observability import get_metrics

    record = api.upload("report.txt", DOCUMENT)
    get_metrics().clear_metrics()
    capsys.readouterr()
    ingest_handler(event("s3_object_created_put", f"files/{record['id']}", s3_bucket))
    output = capsys.readouterr().out
    metrics: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            metrics.update(json.loads(line))
    assert metrics["IngestChunks"] in (8.0, [8.0])
    assert metrics["EmbeddingCalls"] in (1.0, [1.0])
    assert metrics["IngestSucceeded"] in (1.0, [1.0])
    duration = metrics["IngestDuration"]
    assert (duration[0] if isinstance(duration, list) else duration) > 0
