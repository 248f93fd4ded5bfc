"""Object stores with one small interface, so the rag function never knows which one it has."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from stratus.errors import NotFoundError, ServiceUnavailableError
from stratus.settings import StorageSettings, aws_settings, storage_settings

# Keys come from our own code (ids, never user filenames); this guard makes that a checked fact.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def check_key(key: str) -> str:
    too_long = len(key) > 512 or any(len(part) > 255 for part in key.split("/"))
    if too_long or not _KEY.fullmatch(key) or ".." in key:
        raise ValueError("object keys are server-generated: letters, digits, '._-' and '/'")
    return key


class ObjectStore(Protocol):
    name: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def ping(self) -> None: ...


class LocalDirObjectStore:
    """Files under one directory, so uploads survive a restart of the local stack."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves a half-written object under its real key.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(path)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise NotFoundError("File content not found") from None

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    async def ping(self) -> None:
        def check() -> None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError:
                # The message must not carry the path: it may reach a client via /readyz.
                raise ServiceUnavailableError("Upload directory is not usable") from None
            if not os.access(self.root, os.W_OK):
                raise ServiceUnavailableError("Upload directory is not writable")

        await anyio.to_thread.run_sync(check)


class S3ObjectStore:
    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self._call(
            "put_object",
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        try:
            response = await self._call("get_object", Bucket=self.bucket, Key=self._key(key))
        except NotFoundError:
            raise NotFoundError("File content not found") from None
        body: bytes = await anyio.to_thread.run_sync(response["Body"].read)
        return body

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self.bucket, Key=self._key(key))

    async def exists(self, key: str) -> bool:
        try:
            await self._call("head_object", Bucket=self.bucket, Key=self._key(key))
        except NotFoundError:
            return False
        return True

    def key_of(self, object_key: str) -> str | None:
        """Our key for a bucket key (as S3 events name it): None if outside our prefix."""
        if not object_key.startswith(self.prefix):
            return None
        return object_key[len(self.prefix) :]

    async def presigned_upload(
        self, key: str, *, max_bytes: int, expires_seconds: int
    ) -> dict[str, Any]:
        """A presigned POST (URL and form fields) for one object under ``key``, at most
        ``max_bytes``: S3 itself refuses a larger body, which a presigned PUT cannot."""
        result: dict[str, Any] = await self._call(
            "generate_presigned_post",
            Bucket=self.bucket,
            Key=self._key(key),
            Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_seconds,
        )
        return result

    async def ping(self) -> None:
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except NotFoundError:
            raise ServiceUnavailableError("The upload bucket does not exist") from None

    def close(self) -> None:
        self._client.close()

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        method = getattr(self._client, operation)
        try:
            return await anyio.to_thread.run_sync(functools.partial(method, **kwargs))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise NotFoundError("Object not found") from None
            raise ServiceUnavailableError("Object storage is unavailable", retry_after=2) from None
        except BotoCoreError:
            raise ServiceUnavailableError("Object storage is unavailable", retry_after=2) from None


def build_object_store(settings: StorageSettings) -> ObjectStore:
    if settings.provider == "s3":
        import boto3
        from botocore.config import Config

        aws = aws_settings()
        client = boto3.client(
            "s3",
            region_name=aws.region,
            endpoint_url=aws.s3_endpoint,
            config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 3}),
        )
        assert settings.s3_bucket is not None  # checked by StorageSettings
        return S3ObjectStore(client, settings.s3_bucket, settings.s3_key_prefix)
    return LocalDirObjectStore(settings.upload_dir)


# One store per distinct settings value, for the life of the process (until a reset).
_stores: dict[StorageSettings, ObjectStore] = {}


def get_object_store() -> ObjectStore:
    settings = storage_settings()
    store = _stores.get(settings)
    if store is None:
        store = _stores[settings] = build_object_store(settings)
    return store


async def prepare_object_store() -> None:
    """Build the store (and its S3 client, if any) at init; S3 connects on the first call."""
    get_object_store()


async def reset_object_store() -> None:
    for store in _stores.values():
        if isinstance(store, S3ObjectStore):
            store.close()
    _stores.clear()
