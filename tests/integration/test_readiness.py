"""/healthz and /readyz of each function, against real Postgres, moto and the model host."""

from __future__ import annotations

import os
import time
import uuid

import boto3
import pytest
from litestar.testing import AsyncTestClient

from functions.auth.app import create_app as create_auth
from functions.chat.app import create_app as create_chat
from functions.rag.app import create_app as create_rag
from local.children import free_port
from stratus.db import close_pool
from stratus.settings import reset_settings
from tests.support.hanging import hanging_listener

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("create_app", [create_auth, create_chat, create_rag])
async def test_healthz_answers_without_any_configuration(create_app, monkeypatch):
    # GIVEN no database or AWS configuration at all: liveness must not touch either
    for name in ("DATABASE_URL", "AWS_ENDPOINT_URL_DYNAMODB", "OLLAMA_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    async with AsyncTestClient(create_app()) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-request-id"]


async def test_readyz_reports_each_dependency_and_degrades_without_model_host(env):
    async with AsyncTestClient(create_chat()) as client:
        response = await client.get("/readyz")
    body = response.json()
    # The model host is unreachable in this environment: degraded, not fatal.
    assert response.status_code == 200, body
    assert body["status"] == "degraded"
    assert body["checks"]["postgres"]["status"] == "ok"
    assert body["checks"]["dynamodb"]["status"] == "ok"
    assert body["checks"]["model_host"]["status"] == "down"
    assert body["checks"]["model_host"]["required"] is False
    assert all(isinstance(c["latency_ms"], float) for c in body["checks"].values())
    assert "127.0.0.1:9" not in response.text


async def test_readyz_is_503_when_a_required_dependency_is_down(env):
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:9"
    reset_settings()
    async with AsyncTestClient(create_auth()) as client:
        response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["dynamodb"]["status"] == "down"
    assert body["checks"]["postgres"]["status"] == "ok"


# --- dependencies down or hung ------------------------------------------------------------------

STATES = {"ok", "down", "timeout"}
# What a client must never learn from the public /readyz: internals, addresses, paths.
NEVER_IN_BODY = ("Error", "Exception", "Timeout", "Traceback", "psycopg", "boto", "127.0.0.1")


def _public_report(response, service: str) -> dict[str, str]:
    """The body names dependencies and states, nothing else; returns each state by name."""
    body = response.json()
    assert set(body) == {"status", "checks", "service"}
    assert body["service"] == service
    for name, check in body["checks"].items():
        assert set(check) == {"status", "latency_ms", "required"}, (name, check)
        assert check["status"] in STATES, (name, check)
        assert isinstance(check["latency_ms"], float)
    for fragment in NEVER_IN_BODY:
        assert fragment not in response.text, fragment
    return {name: check["status"] for name, check in body["checks"].items()}


async def _readyz(create_app, **env: str):
    os.environ.update(env)
    reset_settings()
    async with AsyncTestClient(create_app()) as client:
        started = time.monotonic()
        response = await client.get("/readyz")
        return response, time.monotonic() - started


async def test_readyz_reports_postgres_down(env):
    await close_pool()  # a pool left on this loop would still hold a good connection
    url = f"postgresql://stratus@127.0.0.1:{free_port()}/stratus"
    response, elapsed = await _readyz(create_auth, DATABASE_URL=url, STRATUS_READINESS_TIMEOUT="1")
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert _public_report(response, "auth") == {"postgres": "down", "dynamodb": "ok"}
    assert elapsed < 2.5


async def test_readyz_reports_s3_down_when_its_endpoint_is_unreachable(env):
    response, _ = await _readyz(
        create_rag,
        STORAGE_PROVIDER="s3",
        S3_BUCKET_NAME="stratus-readiness",
        S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
        STRATUS_READINESS_TIMEOUT="5",
    )
    assert response.status_code == 503
    states = _public_report(response, "rag")
    assert states["object_storage"] == "down"
    assert states["postgres"] == "ok"


async def test_readyz_reports_s3_down_when_the_bucket_is_missing(env):
    # moto answers, but the bucket was never created.
    response, _ = await _readyz(
        create_rag, STORAGE_PROVIDER="s3", S3_BUCKET_NAME=f"missing-{uuid.uuid4().hex[:8]}"
    )
    assert response.status_code == 503
    assert _public_report(response, "rag")["object_storage"] == "down"


async def test_readyz_reports_s3_ok_when_the_bucket_exists(env):
    bucket = f"present-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"]).create_bucket(Bucket=bucket)
    response, _ = await _readyz(create_rag, STORAGE_PROVIDER="s3", S3_BUCKET_NAME=bucket)
    assert _public_report(response, "rag")["object_storage"] == "ok"


async def test_readyz_reports_an_unusable_upload_dir_as_down(env, tmp_path):
    # Under a regular file, so no directory can be made there, even by root.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    response, _ = await _readyz(create_rag, UPLOAD_DIR=str(blocker / "uploads"))
    assert response.status_code == 503
    assert _public_report(response, "rag")["object_storage"] == "down"
    assert str(tmp_path) not in response.text


@pytest.mark.parametrize(
    ("variable", "dependency", "status_code"),
    [
        ("AWS_ENDPOINT_URL_DYNAMODB", "dynamodb", 503),
        # The model host is optional: hung, it degrades the service but does not fail it.
        ("OLLAMA_BASE_URL", "model_host", 200),
    ],
)
async def test_a_probe_that_hangs_is_cut_off_at_the_readiness_timeout(
    env, variable, dependency, status_code
):
    budget = 0.5
    with hanging_listener() as hung:
        os.environ.update({variable: hung.url, "STRATUS_READINESS_TIMEOUT": str(budget)})
        reset_settings()
        async with AsyncTestClient(create_chat()) as client:
            # The first call builds the clients, which on a busy machine can take longer than
            # the budget by itself; the second shows what a warm process does with a hung peer.
            await client.get("/readyz")
            started = time.monotonic()
            response = await client.get("/readyz")
            elapsed = time.monotonic() - started
        reached = hung.accepted
    # The probes really got through to the hung server, which then said nothing.
    assert reached >= 2
    assert response.status_code == status_code
    # The rest answer as usual; the suite's model host is a closed port.
    usual = {"postgres": "ok", "dynamodb": "ok", "model_host": "down"}
    assert _public_report(response, "chat") == usual | {dependency: "timeout"}
    latency = response.json()["checks"][dependency]["latency_ms"]
    assert budget * 1000 <= latency < budget * 1000 + 500
    # Every probe runs at once, so the whole answer takes about one budget, not the hung
    # client's own timeouts (botocore: 2 s per try, with retries).
    assert elapsed < budget + 1.0
