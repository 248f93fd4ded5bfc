"""Files: upload (checked before anything is stored), read, download, delete, status.

An upload is refused quickly, before any parsing, when it is too large, when its content is not
an allowed type (magic bytes) or when a DOCX's ZIP directory promises a bomb. The storage key is
generated here (``files/<id>``); the client's file name is metadata only. Small files are
processed within the request; larger ones by the S3 event in AWS, or in the background locally.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.rag.files_store import FileRow, FilesStore, NewFile
from functions.rag.ingest.pipeline import Ingestor
from functions.rag.ingest.sniff import sniff
from functions.rag.ingest.zipguard import check_zip
from functions.rag.names import safe_name
from stratus.auth.principal import Principal
from stratus.errors import BadRequestError, NotFoundError, PayloadTooLargeError
from stratus.settings import RagSettings
from stratus.storage import ObjectStore, S3ObjectStore
from stratus.web.text import check_text

PAGE_SIZE = 100


def display_name(raw: str | None) -> str:
    """What the client called the file, checked and made safe (``names``): metadata only."""
    name = raw or ""
    check_text(name, "file", "display_name")
    return safe_name(name)


def storage_key(file_id: str) -> str:
    return f"files/{file_id}"


@dataclass(frozen=True, slots=True)
class Download:
    row: FileRow
    data: bytes


class FilesService:
    def __init__(
        self,
        files: FilesStore,
        objects: ObjectStore,
        settings: RagSettings,
        ingestor: Ingestor,
        schedule: Callable[[str], None],
    ) -> None:
        self.files = files
        self.objects = objects
        self.settings = settings
        self.ingestor = ingestor
        self.schedule = schedule

    def _too_large(self, size: int) -> PayloadTooLargeError:
        limit = self.settings.file_max_bytes
        return PayloadTooLargeError(
            f"The file is {size} bytes; at most {limit} bytes ({limit / (1024 * 1024):g} MB, "
            "RAG_FILE_MAX_SIZE) are accepted.",
            param="file",
        )

    async def upload(
        self,
        principal: Principal,
        raw_name: str | None,
        data: bytes,
        *,
        process: bool,
        in_background: bool,
    ) -> FileRow:
        name = display_name(raw_name)
        if len(data) > self.settings.file_max_bytes:
            raise self._too_large(len(data))
        kind = sniff(data, name)
        if kind.kind == "docx":
            check_zip(
                data,
                max_uncompressed=self.settings.zip_max_uncompressed_bytes,
                max_ratio=self.settings.zip_max_ratio,
            )
        file_id = str(uuid.uuid4())
        row = await self.files.create(
            NewFile(
                id=file_id,
                user_id=principal.user_id,
                filename=name,
                storage_key=storage_key(file_id),
                kind=kind.kind,
                content_type=kind.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
        try:
            await self.objects.put(row.storage_key, data, kind.content_type)
        except BaseException:
            await self.files.forget(file_id)
            raise
        if not process:
            return row
        if len(data) <= self.settings.inline_max_bytes or not in_background:
            await self.ingestor.ingest(file_id)
        elif self.settings.async_ingest == "local":
            self.schedule(row.storage_key)
        # Otherwise S3's object-created event starts the ingest handler.
        return await self.get(principal, file_id)

    async def get(self, principal: Principal, file_id: str) -> FileRow:
        row = await self.files.get(file_id, principal.user_id, principal.is_admin)
        if row is None:
            raise NotFoundError("File not found")
        return row

    async def list(self, principal: Principal, page: int | None) -> list[FileRow]:
        offset = 0 if page is None else (page - 1) * PAGE_SIZE
        limit = 10_000 if page is None else PAGE_SIZE
        return await self.files.list_for(principal.user_id, limit=limit, offset=offset)

    async def download(self, principal: Principal, file_id: str) -> Download:
        row = await self.get(principal, file_id)
        return Download(row, await self.objects.get(row.storage_key))

    async def delete(self, principal: Principal, file_id: str) -> None:
        key = await self.files.delete(file_id, principal.user_id, principal.is_admin)
        if key is None:
            raise NotFoundError("File not found")
        # After the rows: a failed delete leaves an orphaned object, never a row without one.
        await self.objects.delete(key)

    async def process_again(self, principal: Principal, file_id: str) -> FileRow:
        """Open WebUI's process route: (re)process the file now, within the request."""
        await self.get(principal, file_id)
        reset = await self.files.reset_for_retry(
            file_id,
            principal.user_id,
            principal.is_admin,
            stale_seconds=self.settings.processing_stale_seconds,
        )
        if reset is not None:
            await self.ingestor.ingest(file_id)
        return await self.get(principal, file_id)

    async def upload_url(self, principal: Principal, raw_name: str) -> tuple[FileRow, Any]:
        if not isinstance(self.objects, S3ObjectStore):
            raise BadRequestError(
                "Direct uploads need S3 storage (STORAGE_PROVIDER=s3); upload through "
                "POST /api/v1/files/ instead.",
                code="needs_s3",
            )
        name = display_name(raw_name)
        file_id = str(uuid.uuid4())
        row = await self.files.create(
            NewFile(
                id=file_id,
                user_id=principal.user_id,
                filename=name,
                storage_key=storage_key(file_id),
            )
        )
        presigned = await self.objects.presigned_upload(
            row.storage_key,
            max_bytes=self.settings.file_max_bytes,
            expires_seconds=self.settings.upload_url_seconds,
        )
        return row, presigned
