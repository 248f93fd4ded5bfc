"""The one way into ingestion, for every trigger: objects named by their storage keys.

The Lambda ingest handler calls it with the keys of an S3 event; the local stack's background
runner calls it with the key of an upload it did not process inline. Either way a key that names
no file (deleted meanwhile, or not ours) is skipped, and a file already done is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from functions.rag.files_store import FilesStore
from functions.rag.ingest.pipeline import Ingestor, IngestOutcome
from stratus.observability import get_logger
from stratus.settings import rag_settings
from stratus.storage import get_object_store


def build_ingestor() -> Ingestor:
    return Ingestor(get_object_store(), rag_settings())


async def ingest_keys(keys: Iterable[str], *, retry_transient: bool) -> list[IngestOutcome]:
    files = FilesStore()
    ingestor = build_ingestor()
    outcomes = []
    for key in keys:
        row = await files.by_storage_key(key)
        if row is None:
            get_logger().info("no file for stored object", extra={"key": key})
            continue
        outcomes.append(await ingestor.ingest(row.id, retry_transient=retry_transient))
    return outcomes
