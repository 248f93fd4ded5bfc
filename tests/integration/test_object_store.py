"""One contract for both object stores: a local directory and S3 (moto's server)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratus.errors import NotFoundError, ServiceUnavailableError
from stratus.settings import reset_settings
from stratus.storage import LocalDirObjectStore, ObjectStore, S3ObjectStore, get_object_store
from tests.support.services import MotoServer

pytestmark = pytest.mark.anyio


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(moto: MotoServer) -> Iterator[tuple[Any, str]]:
    client = s3_client(moto.endpoint)
    name = f"stratus-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield client, name
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalDirObjectStore(tmp_path / "uploads")
    client, name = request.getfixturevalue("bucket")
    return S3ObjectStore(client, name, prefix="files")


# --- the contract ------------------------------------------------------------------------------


async def test_put_get_exists_delete(store):
    key = "user-1/file-abc.txt"
    assert await store.exists(key) is False
    await store.put(key, b"hello\x00world", "text/plain")
    assert await store.exists(key) is True
    assert await store.get(key) == b"hello\x00world"
    await store.put(key, b"replaced", "text/plain")
    assert await store.get(key) == b"replaced"
    await store.delete(key)
    assert await store.exists(key) is False


async def test_get_of_a_missing_key_is_not_found(store):
    with pytest.raises(NotFoundError) as exc_info:
        await store.get("no-such/key.bin")
    assert exc_info.value.status_code == 404
    assert "no-such" not in exc_info.value.message


async def test_delete_of_a_missing_key_is_a_no_op(store):
    await store.delete("never-written.bin")
    assert await store.exists("never-written.bin") is False


async def test_keys_are_independent(store):
    await store.put("a/one", b"1", "application/octet-stream")
    await store.put("a/two", b"2", "application/octet-stream")
    await store.delete("a/one")
    assert await store.get("a/two") == b"2"
    assert await store.exists("a/one") is False


async def test_large_binary_round_trip(store):
    data = os.urandom(3 * 1024 * 1024 + 17)
    await store.put("big.bin", data, "application/octet-stream")
    assert await store.get("big.bin") == data


BAD_KEYS = [
    "../escape",
    "a/../../escape",
    "a/..",
    "..",
    ".",
    "a/./b",
    "/etc/passwd",
    "//server/share",
    "a\\..\\b",
    "C:\\Windows",
    "a//b",
    "a/",
    "",
    " leading-space",
    "tab\tkey",
    "new\nline",
    "nul\x00byte",
    "caf\u00e9",
    "\uff41\uff42",  # fullwidth "ab"
    "e\u0301",  # combining accent
    "rtl\u202eexe.txt",
    "\u2024\u2024/escape",  # one-dot leaders that some tools fold to ".."
    "x" * 513,
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=[repr(k)[:24] for k in BAD_KEYS])
async def test_unsafe_keys_are_rejected_by_every_operation(store, key):
    with pytest.raises(ValueError, match="server-generated"):
        await store.put(key, b"x", "text/plain")
    with pytest.raises(ValueError, match="server-generated"):
        await store.get(key)
    with pytest.raises(ValueError, match="server-generated"):
        await store.exists(key)
    with pytest.raises(ValueError, match="server-generated"):
        await store.delete(key)


async def test_ping_answers_for_the_backend_as_it_is_at_each_call(store, request):
    # What readiness relies on: a ping passes on a usable backend, fails once the backend is
    # gone, and passes again when it is back; the same store object never answers from memory.
    await store.ping()
    await store.put("after-ping.txt", b"usable", "text/plain")
    if isinstance(store, LocalDirObjectStore):
        shutil.rmtree(store.root)
        store.root.write_text("not a directory")

        def mend() -> None:
            store.root.unlink()
    else:
        client, name = request.getfixturevalue("bucket")
        client.delete_object(Bucket=name, Key="files/after-ping.txt")
        client.delete_bucket(Bucket=name)

        def mend() -> None:
            client.create_bucket(Bucket=name)

    with pytest.raises(ServiceUnavailableError):
        await store.ping()
    mend()
    await store.ping()


# --- local specifics ---------------------------------------------------------------------------


async def test_local_files_survive_a_new_store_instance(tmp_path):
    await LocalDirObjectStore(tmp_path).put("k/v.txt", b"kept", "text/plain")
    assert await LocalDirObjectStore(tmp_path).get("k/v.txt") == b"kept"


async def test_local_put_leaves_no_temporary_files(tmp_path):
    store = LocalDirObjectStore(tmp_path / "root")
    await store.put("a/b.txt", b"1", "text/plain")
    await store.put("a/b.txt", b"2", "text/plain")
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["root/a/b.txt"]


async def test_local_ping_creates_the_root(tmp_path):
    root = tmp_path / "not" / "yet"
    await LocalDirObjectStore(root).ping()
    assert root.is_dir()


# Paths-like text: separators, dots and odd characters, so escapes are actually tried.
key_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("./\\~:-_ aZ09")),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)


def test_property_accepted_local_keys_stay_inside_the_root(tmp_path):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()

    outcomes = {"accepted": 0, "rejected": 0}

    @settings(max_examples=300, deadline=None)
    @given(key=key_text)
    def check(key: str) -> None:
        root = Path(tempfile.mkdtemp(dir=sandbox))
        try:
            try:
                anyio.run(LocalDirObjectStore(root).put, key, b"x", "text/plain")
            except ValueError:
                outcomes["rejected"] += 1
                return  # rejected: fine
            outcomes["accepted"] += 1
            # Accepted: the object lives inside the root, and nothing else appeared anywhere.
            written = [p for p in root.rglob("*") if p.is_file()]
            assert written == [(root / key)]
            assert (root / key).resolve().is_relative_to(root.resolve())
            assert list(sandbox.iterdir()) == [root]
        finally:
            shutil.rmtree(root)

    check()
    # Both branches ran: a store that refused every key would pass the property vacuously.
    assert outcomes["accepted"] > 0, outcomes
    assert outcomes["rejected"] > 0, outcomes


# --- S3 specifics ------------------------------------------------------------------------------


async def test_s3_prefix_is_applied(bucket):
    client, name = bucket
    store = S3ObjectStore(client, name, prefix="uploads")
    await store.put("u1/f1", b"x", "text/plain")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=name)["Contents"]]
    assert keys == ["uploads/u1/f1"]
    head = client.head_object(Bucket=name, Key="uploads/u1/f1")
    assert head["ContentType"] == "text/plain"


async def test_s3_unreachable_endpoint_is_service_unavailable():
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    store = S3ObjectStore(client, "any-bucket")
    with pytest.raises(ServiceUnavailableError):
        await store.get("k")
    with pytest.raises(ServiceUnavailableError):
        await store.ping()


async def test_s3_operations_on_a_missing_bucket_are_service_unavailable(moto):
    store = S3ObjectStore(s3_client(moto.endpoint), f"missing-{uuid.uuid4().hex[:12]}")
    with pytest.raises(ServiceUnavailableError):
        await store.put("k", b"x", "text/plain")
    with pytest.raises(ServiceUnavailableError):
        await store.get("k")


async def test_s3_ping_on_a_missing_bucket_is_service_unavailable(moto):
    store = S3ObjectStore(s3_client(moto.endpoint), f"missing-{uuid.uuid4().hex[:12]}")
    with pytest.raises(ServiceUnavailableError):
        await store.ping()


async def test_local_ping_on_an_unusable_root_is_service_unavailable(tmp_path):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    with pytest.raises(ServiceUnavailableError):
        await LocalDirObjectStore(not_a_dir).ping()


# --- configuration -----------------------------------------------------------------------------


async def test_get_object_store_defaults_to_the_local_upload_dir(env):
    store = get_object_store()
    assert isinstance(store, LocalDirObjectStore)
    assert store.root == (Path(env["STRATUS_DATA_DIR"]) / "uploads").resolve()


async def test_get_object_store_honours_s3_settings(env, bucket, monkeypatch):
    client, name = bucket
    # GIVEN the local store was in use
    assert isinstance(get_object_store(), LocalDirObjectStore)
    # WHEN the operator switches to S3
    monkeypatch.setenv("STORAGE_PROVIDER", "s3")
    monkeypatch.setenv("S3_BUCKET_NAME", name)
    monkeypatch.setenv("S3_KEY_PREFIX", "/stratus/")
    reset_settings()
    store = get_object_store()
    # THEN the S3 store is built against the configured endpoint, bucket and prefix
    assert isinstance(store, S3ObjectStore)
    assert store.bucket == name
    assert get_object_store() is store  # built once per settings value
    await store.ping()
    await store.put("via-settings.txt", b"ok", "text/plain")
    assert client.get_object(Bucket=name, Key="stratus/via-settings.txt")["Body"].read() == b"ok"
    assert await store.get("via-settings.txt") == b"ok"
