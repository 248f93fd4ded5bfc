"""The ephemeral DynamoDB store against moto's server: expiry by our clock."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import uuid

import boto3
import pytest

from stratus.ephemeral import EphemeralStore
from stratus.ephemeral.table import ephemeral_model
from stratus.errors import ServiceUnavailableError
from stratus.settings import aws_settings, reset_settings
from tests.support.clock import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(env: dict[str, str], clock: FakeClock) -> EphemeralStore:
    return EphemeralStore(clock=clock)


@pytest.fixture
def pk() -> str:
    return f"test#{uuid.uuid4().hex}"


async def test_put_then_get_round_trips(store, pk, clock):
    assert await store.put(pk, "flag", ttl_seconds=60, owner="user-1", value="stop") is True
    entry = await store.get(pk, "flag")
    assert entry is not None
    assert (entry.pk, entry.sk, entry.owner, entry.value) == (pk, "flag", "user-1", "stop")
    assert entry.expires_at == int(clock.now) + 60


async def test_get_of_a_missing_entry_is_none(store, pk):
    assert await store.get(pk, "nothing") is None


async def test_delete_removes_the_entry(store, pk):
    await store.put(pk, "flag", ttl_seconds=60)
    await store.delete(pk, "flag")
    assert await store.get(pk, "flag") is None
    await store.delete(pk, "flag")  # deleting twice is fine


async def test_only_if_absent_respects_live_entries_and_ignores_expired_ones(store, pk, clock):
    # GIVEN a live entry
    assert await store.put(pk, "lock", ttl_seconds=30, value="first", only_if_absent=True)
    # THEN a second conditional put loses
    assert await store.put(pk, "lock", ttl_seconds=30, value="second", only_if_absent=True) is False
    entry = await store.get(pk, "lock")
    assert entry is not None
    assert entry.value == "first"

    # WHEN the entry expires by our clock, before any TTL sweeper has removed it
    clock.advance(31)
    raw = await asyncio.to_thread(ephemeral_model().get, pk, "lock", consistent_read=True)
    assert raw.value == "first"  # still physically in the table
    assert await store.get(pk, "lock") is None  # but expired for readers

    # THEN it counts as absent
    assert await store.put(pk, "lock", ttl_seconds=30, value="third", only_if_absent=True)
    entry = await store.get(pk, "lock")
    assert entry is not None
    assert entry.value == "third"


async def test_entry_expires_exactly_at_its_deadline(store, pk, clock):
    await store.put(pk, "flag", ttl_seconds=10)
    clock.advance(9)
    assert await store.get(pk, "flag") is not None
    clock.advance(1)
    assert await store.get(pk, "flag") is None


async def test_ttl_is_enabled_on_expires_at(env):
    client = boto3.client(
        "dynamodb",
        endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"],
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    description = client.describe_time_to_live(TableName=env["STRATUS_DYNAMODB_TABLE"])
    ttl = description["TimeToLiveDescription"]
    assert ttl.get("TimeToLiveStatus") == "ENABLED"
    assert ttl.get("AttributeName") == "expires_at"


async def test_ping_proves_the_configured_table_is_there(store):
    # A ping is what readiness asks: it answers for the table this store would use, so the
    # same check against a table that does not exist fails where the real one passes.
    await store.ping()
    missing = dataclasses.replace(aws_settings(), dynamodb_table=f"missing-{uuid.uuid4().hex}")
    with pytest.raises(ServiceUnavailableError):
        await EphemeralStore(missing).ping()


@pytest.mark.parametrize("operation", ["get", "put", "ping"])
async def test_unreachable_endpoint_is_service_unavailable(env, operation):
    # GIVEN an endpoint nothing listens on
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:9"
    reset_settings()
    store = EphemeralStore()
    calls = {
        "get": lambda: store.get("pk", "sk"),
        "put": lambda: store.put("pk", "sk", ttl_seconds=5),
        "ping": store.ping,
    }
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as exc_info:
        await calls[operation]()
    assert time.monotonic() - started < 5
    assert exc_info.value.status_code == 503
    assert "127.0.0.1" not in exc_info.value.message
