"""Open WebUI's ``/api/v1/files``: upload, list, read, download, delete, processing status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import MediaType, RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.base import ASGIResponse

from functions.rag import deps
from functions.rag.files_service import FilesService
from functions.rag.names import safe_name
from functions.rag.schemas import (
    Deleted,
    FileResponse,
    ProcessStatus,
    UploadForm,
    UploadUrl,
    UploadUrlForm,
)
from functions.rag.views import file_response, process_status
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access
from stratus.web.text import PathId

USER = access(Access.USER)
OWNER = access(Access.OWNER)
Page = Annotated[int | None, QueryParameter(ge=1, le=100_000, required=False)]
# A download must never render in the browser: the bytes are whatever the user uploaded.
_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}
_STATUS_POLL_SECONDS = 1.0


class EventStream(ServerSentEvent):
    """Server-sent events whose type wins over the route's (Litestar prefers the route's)."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        kwargs["media_type"] = "text/event-stream"
        return super().to_asgi_response(*args, **kwargs)


def content_disposition(stored: str) -> str:
    """``attachment``, with an ASCII fallback name and the exact name per RFC 6266/5987.
    Names stored before ``names.safe_name`` existed are made safe here too."""
    name = safe_name(stored)
    fallback = (
        "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name).strip()
        or "file"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class FilesController(Controller):
    """Routes answer 200 (Open WebUI's), not Litestar's 201 or 204."""

    path = "/api/v1/files"
    tags = ["files"]
    dependencies = {"files": Provide(deps.provide_files, sync_to_thread=False)}

    @post("/", status_code=200, opt={**USER, **may_answer(503)})
    async def upload(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        process: Annotated[bool, QueryParameter()] = True,
        process_in_background: Annotated[bool, QueryParameter()] = True,
    ) -> FileResponse:
        """Upload a document (field ``file``): txt, md, html, csv, json, pdf or docx.

        Small files are processed before the answer; larger ones afterwards (poll
        ``/process/status``). ``process=false`` stores the file without processing it.
        """
        content = await data.file.read()
        row = await files.upload(
            principal,
            data.file.filename,
            content,
            process=process,
            in_background=process_in_background,
        )
        return file_response(row)

    @get("/", opt=USER)
    async def list_files(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        page: Page = None,
    ) -> list[FileResponse]:
        """The caller's files, newest first (100 per ``page`` when one is given)."""
        return [file_response(row) for row in await files.list(principal, page)]

    @post("/upload-url", status_code=200, opt={**USER, **may_answer(503)})
    async def upload_url(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        data: JSONBody[UploadUrlForm],
    ) -> UploadUrl:
        """A presigned S3 upload for files too large for the API (S3 storage only).

        In AWS a request body is capped near 6 MB by Lambda, so large files go straight to S3;
        S3's object-created event starts processing.
        """
        row, presigned = await files.upload_url(principal, data.filename)
        return UploadUrl(
            id=row.id,
            url=str(presigned["url"]),
            fields={str(k): str(v) for k, v in presigned["fields"].items()},
            max_size=files.settings.file_max_bytes,
            expires_in=files.settings.upload_url_seconds,
            file=file_response(row),
        )

    @get("/{file_id:str}", opt=OWNER)
    async def get_file(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        file_id: PathId,
    ) -> FileResponse:
        return file_response(await files.get(principal, file_id))

    @get(
        "/{file_id:str}/content",
        opt={**OWNER, **may_answer(503)},
        media_type="application/octet-stream",
    )
    async def download(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        file_id: PathId,
    ) -> Response[bytes]:
        """The stored file, as an attachment (never rendered by a browser)."""
        found = await files.download(principal, file_id)
        return Response(
            content=found.data,
            media_type="application/octet-stream",
            headers={
                **_DOWNLOAD_HEADERS,
                "Content-Disposition": content_disposition(found.row.filename),
            },
        )

    @delete("/{file_id:str}", status_code=200, opt={**OWNER, **may_answer(503)})
    async def delete_file(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        file_id: PathId,
    ) -> Deleted:
        """The file, its chunks, its place in collections and its stored object."""
        await files.delete(principal, file_id)
        return Deleted(message="File deleted successfully")

    @get(
        "/{file_id:str}/process/status",
        opt=OWNER,
        responses={
            200: ResponseSpec(
                data_container=ProcessStatus,
                generate_examples=False,
                description=(
                    "The processing status; with stream=true, text/event-stream of the same "
                    "objects (data: {...}), ending once the file is ready or failed."
                ),
            )
        },
    )
    async def status(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        file_id: PathId,
        stream: Annotated[bool, QueryParameter()] = False,
    ) -> Response[Any]:
        """``pending``, ``processing``, ready (``completed`` in Open WebUI's ``status``, ``ready``
        in ``state``) or ``failed`` with the reason. ``stream=true``: server-sent events until
        the file is done, for at most ``STRATUS_RAG_STATUS_STREAM_SECONDS``."""
        row = await files.get(principal, file_id)
        if not stream:
            return Response(content=process_status(row), media_type=MediaType.JSON)
        return EventStream(
            _status_events(files, principal, file_id),
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _status_events(
    files: FilesService, principal: NamedDependency[Principal], file_id: str
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + files.settings.status_stream_seconds
    while True:
        row = await files.get(principal, file_id)
        current = process_status(row)
        event = {"status": current.status, "state": current.state}
        if current.error:
            event["error"] = current.error
        yield json.dumps(event)
        if row.status in ("ready", "failed") or loop.time() >= deadline:
            return
        await asyncio.sleep(_STATUS_POLL_SECONDS)
