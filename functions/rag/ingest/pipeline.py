"""One file through the pipeline: claim → read → check → extract → split → embed → store.

Idempotent: the claim (``claims.py``) lets one worker at a time process a file, and the chunks
appear together with the ``ready`` status in one transaction, so the same event twice, or a retry
after a failure half-way, leaves exactly one set of chunks, and a file is searchable only once it
is ready. Failures that more attempts cannot fix (the content, its budgets, the model's size)
mark the file ``failed`` with the reason; the others (the model host or database away) either
fail too, with a reason that says to try again, or, for the S3-event path, return the file to
``pending`` for the next delivery, at most ``STRATUS_RAG_INGEST_MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread
from aws_lambda_powertools.metrics import MetricUnit

from functions.rag.ingest.claims import (
    Claim,
    ClaimLostError,
    ReadyFile,
    claim,
    release,
    store_chunks,
)
from functions.rag.ingest.errors import ExtractionError, IngestError, TransientIngestError
from functions.rag.ingest.sandbox import extract_in_sandbox
from functions.rag.ingest.sniff import sniff
from functions.rag.ingest.splitter import split_text
from functions.rag.ingest.text_extract import extract_text
from functions.rag.ingest.zipguard import check_zip
from stratus.errors import (
    ModelHostStartingError,
    ModelNotFoundError,
    NotFoundError,
    PayloadTooLargeError,
    StratusError,
    UnsupportedMediaTypeError,
)
from stratus.observability import get_logger, get_metrics
from stratus.retrieval.embedding import EmbeddingMismatchError, ModelHostEmbedder, get_embedder
from stratus.settings import RagSettings, model_host_settings
from stratus.storage import ObjectStore

Status = Literal["ready", "failed", "pending", "skipped"]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    file_id: str
    status: Status
    reason: str | None = None
    chunks: int = 0
    embedding_calls: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Prepared:
    ready: ReadyFile
    chunks: list[tuple[int, str]]
    vectors: list[list[float]]


class Ingestor:
    def __init__(
        self,
        objects: ObjectStore,
        settings: RagSettings,
        embedder_factory: Callable[[RagSettings], ModelHostEmbedder] = get_embedder,
    ) -> None:
        self.objects = objects
        self.settings = settings
        self.embedder_factory = embedder_factory

    async def ingest(self, file_id: str, *, retry_transient: bool = False) -> IngestOutcome:
        """Process ``file_id`` if it is waiting; do nothing if another worker has it or it is
        done. ``retry_transient``: leave it pending after a failure a later attempt may fix."""
        claimed = await claim(
            file_id,
            secrets.token_hex(16),
            stale_seconds=self.settings.processing_stale_seconds,
            max_attempts=self.settings.ingest_max_attempts,
        )
        if claimed is None:
            get_logger().info("nothing to ingest", extra={"file_id": file_id})
            return IngestOutcome(file_id, "skipped")
        started = time.perf_counter()
        embedder = self.embedder_factory(self.settings)
        try:
            prepared = await self._prepare(claimed, embedder)
            await store_chunks(claimed, prepared.ready, prepared.chunks, prepared.vectors)
        except ClaimLostError:
            get_logger().info("ingestion superseded", extra={"file_id": file_id})
            return IngestOutcome(file_id, "skipped")
        except Exception as error:  # every failure is recorded on the file, with its reason
            return await self._failed(claimed, error, embedder, started, retry_transient)
        outcome = IngestOutcome(
            file_id,
            "ready",
            chunks=len(prepared.chunks),
            embedding_calls=embedder.stats.calls,
            seconds=time.perf_counter() - started,
        )
        _record(outcome)
        return outcome

    async def _prepare(self, claimed: Claim, embedder: ModelHostEmbedder) -> Prepared:
        settings = self.settings
        try:
            data = await self.objects.get(claimed.storage_key)
        except NotFoundError:
            raise IngestError("The file's content is missing from storage.") from None
        if len(data) > settings.file_max_bytes:
            raise IngestError(
                f"The file is larger than RAG_FILE_MAX_SIZE "
                f"({settings.file_max_bytes / (1024 * 1024):g} MB)."
            )
        try:
            kind = sniff(data, claimed.filename)
            if kind.kind == "docx":
                check_zip(
                    data,
                    max_uncompressed=settings.zip_max_uncompressed_bytes,
                    max_ratio=settings.zip_max_ratio,
                )
        except (UnsupportedMediaTypeError, PayloadTooLargeError) as refused:
            raise IngestError(refused.message) from None
        text = await self._extract(kind.kind, data)
        if len(text) > settings.max_text_chars:
            raise ExtractionError(
                "The file holds more text than STRATUS_RAG_MAX_TEXT_CHARS allows."
            )
        chunks = split_text(text, settings.chunk_size, settings.chunk_overlap)
        if not chunks:
            raise IngestError("The file contains no text to index.")
        vectors = await _embed_when_awake(embedder, [chunk.text for chunk in chunks])
        ready = ReadyFile(
            kind=kind.kind,
            content_type=kind.content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            model=embedder.model,
            dimensions=embedder.dimensions,
        )
        return Prepared(ready, [(c.position, c.text) for c in chunks], vectors)

    async def _extract(self, kind: str, data: bytes) -> str:
        if kind in ("pdf", "docx"):
            return await extract_in_sandbox(
                kind,
                data,
                cpu_seconds=self.settings.extract_timeout,
                memory_mb=self.settings.extract_memory_mb,
                max_chars=self.settings.max_text_chars,
            )
        return await anyio.to_thread.run_sync(extract_text, kind, data)

    async def _failed(
        self,
        claimed: Claim,
        error: Exception,
        embedder: ModelHostEmbedder,
        started: float,
        retry_transient: bool,
    ) -> IngestOutcome:
        reason, permanent = describe_failure(error)
        # A model host that did not wake in time is asleep, not broken: the file waits.
        retry = (retry_transient or isinstance(error, ModelHostStartingError)) and not permanent
        if retry and claimed.attempt >= self.settings.ingest_max_attempts:
            retry = False
            reason = f"{reason} Gave up after {claimed.attempt} attempts."
        elif not permanent and not retry:
            reason = f"{reason} Process the file again with POST /api/v1/retrieval/process/file."
        status: Status = "pending" if retry else "failed"
        if not await release(claimed, status=status, error=reason):
            return IngestOutcome(claimed.file_id, "skipped")
        log = get_logger()
        if isinstance(error, IngestError | StratusError):
            log.info("ingestion failed", extra={"file_id": claimed.file_id, "reason": reason})
        else:
            log.exception("ingestion failed unexpectedly", extra={"file_id": claimed.file_id})
        outcome = IngestOutcome(
            claimed.file_id,
            status,
            reason,
            embedding_calls=embedder.stats.calls,
            seconds=time.perf_counter() - started,
        )
        _record(outcome)
        return outcome


async def _embed_when_awake(embedder: ModelHostEmbedder, texts: list[str]) -> list[list[float]]:
    """The first batch wakes a sleeping model host (scale-to-zero); ingestion then waits for
    it, retrying with backoff up to ``STRATUS_MODEL_HOST_WAKE_HOLD_SECONDS``, so the file stays
    ``processing`` instead of failing because the host was asleep."""
    from tenacity import (
        AsyncRetrying,
        retry_if_exception_type,
        stop_after_delay,
        wait_exponential,
    )

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(ModelHostStartingError),
        wait=wait_exponential(multiplier=1, max=30),
        stop=stop_after_delay(model_host_settings().wake_hold_seconds),
        reraise=True,
    ):
        with attempt:
            return await embedder.embed(texts)
    raise AssertionError("unreachable: tenacity re-raises the last error")


def describe_failure(error: Exception) -> tuple[str, bool]:
    """(reason for the user, whether retrying cannot help)."""
    if isinstance(error, IngestError):
        return error.reason, error.permanent and not isinstance(error, TransientIngestError)
    if isinstance(error, EmbeddingMismatchError | ModelNotFoundError):
        return f"Embedding failed: {error.message}", True
    if isinstance(error, StratusError):
        # The model host or the database is away or answered badly: another attempt may work.
        return f"Embedding or storage was unavailable: {error.message}", False
    return "Processing failed unexpectedly.", False


def _record(outcome: IngestOutcome) -> None:
    metrics = get_metrics()
    metrics.add_metric(
        name="IngestDuration", unit=MetricUnit.Milliseconds, value=outcome.seconds * 1000
    )
    metrics.add_metric(name="EmbeddingCalls", unit=MetricUnit.Count, value=outcome.embedding_calls)
    if outcome.status == "ready":
        metrics.add_metric(name="IngestChunks", unit=MetricUnit.Count, value=outcome.chunks)
        metrics.add_metric(name="IngestSucceeded", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="IngestFailures", unit=MetricUnit.Count, value=1)
