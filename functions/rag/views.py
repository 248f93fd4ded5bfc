"""Rows into response shapes. Database rows never go straight into a response; file names go
through ``names.safe_name`` (rows written before it existed may hold a raw name)."""

from __future__ import annotations

from datetime import datetime

from functions.rag.files_store import FileRow
from functions.rag.knowledge_store import KnowledgeRow, LinkedFile
from functions.rag.names import safe_name
from functions.rag.schemas import (
    OPEN_WEBUI_STATUS,
    FileData,
    FileMeta,
    FileResponse,
    FileSummary,
    KnowledgeResponse,
    ProcessStatus,
)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def file_data(state: str, error: str | None) -> FileData:
    return FileData(status=OPEN_WEBUI_STATUS[state], state=state, error=error)


def file_response(row: FileRow) -> FileResponse:
    return FileResponse(
        id=row.id,
        user_id=row.user_id,
        filename=safe_name(row.filename),
        hash=row.sha256,
        meta=FileMeta(name=safe_name(row.filename), content_type=row.content_type, size=row.size),
        data=file_data(row.status, row.error),
        chunks=row.chunk_count,
        embedding_model=row.embedding_model,
        created_at=epoch(row.created_at),
        updated_at=epoch(row.updated_at),
    )


def process_status(row: FileRow) -> ProcessStatus:
    return ProcessStatus(
        status=OPEN_WEBUI_STATUS[row.status],
        state=row.status,
        error=row.error if row.status == "failed" else None,
    )


def file_summary(linked: LinkedFile) -> FileSummary:
    return FileSummary(
        id=linked.id,
        meta=FileMeta(
            name=safe_name(linked.filename), content_type=linked.content_type, size=linked.size
        ),
        data=file_data(linked.status, linked.error),
        created_at=epoch(linked.created_at),
        updated_at=epoch(linked.updated_at),
    )


def knowledge_response(
    row: KnowledgeRow, files: list[LinkedFile], *, write_access: bool = True
) -> KnowledgeResponse:
    return KnowledgeResponse(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        files=[file_summary(f) for f in files],
        write_access=write_access,
        created_at=epoch(row.created_at),
        updated_at=epoch(row.updated_at),
    )
