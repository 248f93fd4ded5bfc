"""Request and response types of the rag function: Open WebUI's shapes where it has them.

Request bodies reject unknown fields (a 422 that names the field). Open WebUI's clients send a few
fields this version has no use for; those are accepted and ignored, and listed where they are
declared. Timestamps are epoch seconds, as Open WebUI's are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from litestar.datastructures import UploadFile
from msgspec import Meta, Struct

from stratus.web.text import DisplayName, MultiLine, SingleLine

Id = Annotated[SingleLine, Meta(min_length=1, max_length=128)]
Query = Annotated[MultiLine, Meta(min_length=1, max_length=8000)]
TopK = Annotated[int, Meta(ge=1, le=100)]
CollectionName = Annotated[SingleLine, Meta(min_length=1, max_length=140)]


class Form(Struct, forbid_unknown_fields=True):
    """Base for request bodies."""


@dataclass
class UploadForm:
    """``multipart/form-data`` with the document in the field ``file``."""

    file: UploadFile


# Open WebUI's file status vocabulary, which its documented polling scripts wait on
# ("completed" or "failed"), next to this version's own four states.
OPEN_WEBUI_STATUS = {
    "pending": "pending",
    "processing": "processing",
    "ready": "completed",
    "failed": "failed",
}


class FileMeta(Struct):
    name: str
    content_type: str | None
    size: int | None


class FileData(Struct):
    # Open WebUI's: pending, processing, completed or failed.
    status: str
    # This version's: pending, processing, ready or failed.
    state: str
    error: str | None


class FileResponse(Struct):
    id: str
    user_id: str
    filename: str
    hash: str | None
    meta: FileMeta
    data: FileData
    chunks: int
    embedding_model: str | None
    created_at: int
    updated_at: int


class ProcessStatus(Struct):
    """``status`` in Open WebUI's words (``completed`` when ready), ``state`` in this version's
    (``pending``, ``processing``, ``ready``, ``failed``), and the reason when it failed."""

    status: str
    state: str
    error: str | None = None


class Deleted(Struct):
    message: str


class UploadUrlForm(Form):
    filename: Annotated[DisplayName, Meta(min_length=1, max_length=255)]


class UploadUrl(Struct):
    """A presigned S3 POST: send the fields and then the file (field ``file``) as a multipart
    form to ``url``; S3 refuses a file over ``max_size`` bytes. Processing starts when S3 has it."""

    id: str
    url: str
    fields: dict[str, str]
    max_size: int
    expires_in: int
    file: FileResponse


class KnowledgeForm(Form):
    name: Annotated[DisplayName, Meta(min_length=1, max_length=200)]
    description: Annotated[MultiLine, Meta(max_length=4000)] = ""
    # Sent by Open WebUI's clients. Collections are private to their owner here (admins can
    # reach them too), so sharing settings are accepted and ignored.
    access_control: dict[str, Any] | None = None


class KnowledgeFileForm(Form):
    file_id: Id
    # Open WebUI's folders within a collection; accepted and ignored.
    directory_id: Id | None = None


# Open WebUI's batch add takes a bare list of these.
KnowledgeFileBatch = Annotated[list[KnowledgeFileForm], Meta(min_length=1, max_length=1000)]


class FileSummary(Struct):
    id: str
    meta: FileMeta
    data: FileData
    created_at: int
    updated_at: int


class BatchWarnings(Struct):
    """Open WebUI's: which files of a batch were not added, and why."""

    message: str
    errors: list[str]


class KnowledgeResponse(Struct):
    """``files``: the first 30 of the collection's files, in the order they were added
    (``GET /api/v1/knowledge/{id}/files`` pages through all of them)."""

    id: str
    user_id: str
    name: str
    description: str
    files: list[FileSummary]
    write_access: bool
    created_at: int
    updated_at: int
    access_control: dict[str, Any] = {}
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    # Only on a batch add that left some files out.
    warnings: BatchWarnings | None = None


class KnowledgeFileList(Struct):
    """A page of a collection's files (30 per page, in the order they were added)."""

    items: list[FileSummary]
    total: int


class KnowledgeList(Struct):
    items: list[KnowledgeResponse]
    total: int


class _QueryOptions(Form, kw_only=True):
    query: Query
    k: TopK | None = None
    # Open WebUI's switch: false searches vectors only. ``mode`` says it outright and wins.
    hybrid: bool | None = None
    # hybrid (vectors and BM25 full text, fused), vector, or text; default hybrid
    # (ENABLE_RAG_HYBRID_SEARCH).
    mode: Literal["hybrid", "vector", "text"] | None = None
    # At most this many chunks of one file while other files still have matches (no cap by
    # default; grounded chat uses 2).
    max_per_file: Annotated[int, Meta(ge=1, le=100)] | None = None
    # Open WebUI's reranker and threshold settings: this version has no reranker, so these are
    # accepted and ignored.
    k_reranker: Annotated[int, Meta(ge=0, le=1000)] | None = None
    r: Annotated[float, Meta(ge=0, le=1)] | None = None
    hybrid_bm25_weight: Annotated[float, Meta(ge=0, le=1)] | None = None


class QueryDocForm(_QueryOptions):
    """``collection_name``: ``file-<id>`` for one file (Open WebUI's naming), a collection's id,
    or a file's id."""

    collection_name: CollectionName


class QueryCollectionForm(_QueryOptions):
    collection_names: Annotated[list[CollectionName], Meta(min_length=1, max_length=50)]
    enable_enriched_texts: bool | None = None


class ChunkMetadata(Struct):
    file_id: str
    name: str
    source: str
    position: int
    chunk_id: str
    score: float
    similarity: float | None


class QueryResult(Struct):
    """Open WebUI's (Chroma's) shape: one inner list per query, best first. ``distances`` holds
    scores (higher is better), as Open WebUI's do."""

    ids: list[list[str]]
    documents: list[list[str]]
    metadatas: list[list[ChunkMetadata]]
    distances: list[list[float]]


class ProcessFileForm(Form):
    file_id: Id
    # Open WebUI's: a collection to add the file to as well.
    collection_name: CollectionName | None = None
