"""The ingestion's writes to ``files`` and ``chunks``, fenced by a claim token.

A worker first claims a pending file (or one whose claim went stale: its worker died), which
bumps ``attempts`` and records a fresh token. Every later write names that token, so a worker
whose claim was taken over can change nothing. The chunks and the ``ready`` status are written in
one transaction that starts by re-checking the claim: either the file becomes ready with exactly
one set of chunks, or nothing is written at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stratus.db import connection
from stratus.retrieval.vectors import vector_literal


@dataclass(frozen=True, slots=True)
class Claim:
    file_id: str
    token: str
    user_id: str
    storage_key: str
    filename: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ReadyFile:
    kind: str
    content_type: str
    size: int
    sha256: str
    model: str
    dimensions: int


class ClaimLostError(Exception):
    """Another worker took over, or the file was deleted: this worker's result is discarded."""


async def claim(
    file_id: str, token: str, *, stale_seconds: float, max_attempts: int
) -> Claim | None:
    params = {"id": file_id, "token": token, "stale": stale_seconds, "max": max_attempts}
    async with connection() as conn:
        cursor = await conn.execute(
            "UPDATE files SET status = 'processing', attempts = attempts + 1, "
            "claim_token = %(token)s, claimed_at = now(), updated_at = now() "
            "WHERE id = %(id)s AND attempts < %(max)s AND (status = 'pending' OR "
            "(status = 'processing' AND claimed_at < now() - make_interval(secs => %(stale)s))) "
            "RETURNING user_id, storage_key, filename, attempts",
            params,
        )
        found = await cursor.fetchone()
        if found is None:
            # Out of attempts: say so once, instead of leaving the file pending for ever.
            await conn.execute(
                "UPDATE files SET status = 'failed', claim_token = NULL, updated_at = now(), "
                "error = coalesce(error || ' ', '') || 'Gave up after ' || attempts || "
                "' attempts.' "
                "WHERE id = %(id)s AND attempts >= %(max)s AND (status = 'pending' OR "
                "(status = 'processing' "
                "AND claimed_at < now() - make_interval(secs => %(stale)s)))",
                params,
            )
            return None
    user_id, key, filename, attempt = found
    return Claim(file_id, token, user_id, key, filename, int(attempt))


async def store_chunks(
    claimed: Claim,
    ready: ReadyFile,
    texts: Sequence[tuple[int, str]],
    vectors: Sequence[Sequence[float]],
) -> None:
    async with connection() as conn:
        cursor = await conn.execute(
            "UPDATE files SET status = 'ready', error = NULL, claim_token = NULL, "
            "kind = %s, content_type = %s, size = %s, sha256 = %s, chunk_count = %s, "
            "embedding_model = %s, updated_at = now() "
            "WHERE id = %s AND claim_token = %s AND status = 'processing'",
            (
                ready.kind,
                ready.content_type,
                ready.size,
                ready.sha256,
                len(texts),
                ready.model,
                claimed.file_id,
                claimed.token,
            ),
        )
        if cursor.rowcount != 1:
            raise ClaimLostError(claimed.file_id)
        # Nothing should be there (chunks are only written here), but a set left by an older
        # version of this code must not survive next to the new one.
        await conn.execute("DELETE FROM chunks WHERE file_id = %s", (claimed.file_id,))
        async with conn.cursor().copy(
            "COPY chunks (file_id, user_id, position, text, embedding, embedding_model, "
            "dimensions) FROM STDIN"
        ) as copy:
            for (position, text), vector in zip(texts, vectors, strict=True):
                await copy.write_row(
                    (
                        claimed.file_id,
                        claimed.user_id,
                        position,
                        text,
                        vector_literal(vector),
                        ready.model,
                        ready.dimensions,
                    )
                )


async def release(claimed: Claim, *, status: str, error: str) -> bool:
    """End the claim as ``failed`` (for good) or ``pending`` (to be tried again)."""
    async with connection() as conn:
        cursor = await conn.execute(
            "UPDATE files SET status = %s, error = %s, claim_token = NULL, updated_at = now() "
            "WHERE id = %s AND claim_token = %s",
            (status, error, claimed.file_id, claimed.token),
        )
        return cursor.rowcount == 1
