"""Local stand-in for the S3 event: ingest an upload in the background, on its own thread.

Each job runs ``ingest_keys`` (what the Lambda ingest handler runs) on a fresh event loop in a
worker thread, so it is independent of the request that scheduled it: it keeps going under
uvicorn, under the Lambda-mode bridge and in tests alike. The loop's database pool and HTTP
clients are built for the job and closed after it. Two jobs run at a time; more wait in line.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Future, ThreadPoolExecutor, wait

from stratus.observability import get_logger

_WORKERS = 2
_pending: set[Future[None]] = set()


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="ingest")


def schedule(storage_key: str) -> None:
    future = _executor().submit(_run, storage_key)
    _pending.add(future)
    future.add_done_callback(_pending.discard)


def _run(storage_key: str) -> None:
    try:
        asyncio.run(_job(storage_key))
    except Exception:  # a background job has no caller to raise to; its file records the reason
        get_logger().exception("background ingestion failed", extra={"key": storage_key})


async def _job(storage_key: str) -> None:
    from functions.rag.ingest.entry import ingest_keys
    from stratus.db import close_pool
    from stratus.modelhost import close_model_host
    from stratus.retrieval.openai_http import close_openai_http

    try:
        await ingest_keys([storage_key], retry_transient=False)
    finally:
        await close_model_host()
        await close_openai_http()
        await close_pool()


def drain(timeout: float = 60.0) -> bool:
    """Wait for the jobs scheduled so far; True if all finished (tests and shutdown use it)."""
    _, not_done = wait(list(_pending), timeout=timeout)
    return not not_done
