"""``retrieve``: the top-k chunks for a query over the files and collections a caller names."""

from __future__ import annotations

import time
from collections.abc import Sequence

from aws_lambda_powertools.metrics import MetricUnit

from stratus.auth.principal import Principal
from stratus.db import connection
from stratus.errors import NotFoundError, ValidationError
from stratus.observability import get_logger, get_metrics
from stratus.retrieval.embedding import Embedder, EmbeddingMismatchError, get_embedder
from stratus.retrieval.lexical import query_terms
from stratus.retrieval.plan import SearchPlan, choose_plan
from stratus.retrieval.store import Fusion, SearchRequest, Visible, search, visible_files
from stratus.retrieval.types import MODES, Mode, Ref, Source
from stratus.settings import RagSettings, rag_settings

MAX_K = 100
MAX_QUERY_CHARS = 8000
# Each side of a hybrid search contributes this many candidates per result asked for.
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20


def _not_found(ref: Ref) -> NotFoundError:
    what = "File" if ref.kind == "file" else "Knowledge"
    return NotFoundError(f"{what} not found")


def check_refs(refs: Sequence[Ref], visible: Visible) -> None:
    """404 for any ref the caller may not use: someone else's looks exactly like a missing one."""
    for ref in refs:
        if ref not in visible.found:
            raise _not_found(ref)


def check_models(visible: Visible, model: str) -> None:
    stale = [f for f in visible.files if f.status == "ready" and f.embedding_model != model]
    if stale:
        names = ", ".join(sorted({f.embedding_model or "unknown" for f in stale}))
        raise EmbeddingMismatchError(
            f"{len(stale)} file(s) were embedded with {names}, but the configured embedding "
            f"model is {model}. Process them again (POST /api/v1/retrieval/process/file) to "
            "search them with this model."
        )


def resolve_mode(config: RagSettings, mode: Mode | None, hybrid: bool | None) -> Mode:
    """``mode`` if given; else Open WebUI's ``hybrid`` switch (false: vectors only); else the
    default (``ENABLE_RAG_HYBRID_SEARCH``)."""
    if mode is not None:
        if mode not in MODES:
            raise ValidationError(
                f"Invalid request: mode: must be one of {', '.join(MODES)}.", param="mode"
            )
        return mode
    use_hybrid = config.hybrid_search if hybrid is None else hybrid
    return "hybrid" if use_hybrid else "vector"


async def retrieve(
    principal: Principal,
    refs: Sequence[Ref],
    query: str,
    *,
    k: int | None = None,
    hybrid: bool | None = None,
    mode: Mode | None = None,
    max_per_file: int | None = None,
    settings: RagSettings | None = None,
    embedder: Embedder | None = None,
) -> list[Source]:
    """The best ``k`` chunks for ``query`` among ``refs``, best first (see the package doc)."""
    started = time.perf_counter()
    config = settings or rag_settings()
    limit = config.top_k if k is None else k
    if not 1 <= limit <= MAX_K:
        raise ValidationError(f"Invalid request: k: must be between 1 and {MAX_K}.", param="k")
    if max_per_file is not None and max_per_file < 1:
        raise ValidationError(
            "Invalid request: max_per_file: must be at least 1.", param="max_per_file"
        )
    text = query.strip()[:MAX_QUERY_CHARS]
    if not text:
        raise ValidationError("Invalid request: query: must not be empty.", param="query")
    chosen = resolve_mode(config, mode, hybrid)
    embed = embedder or get_embedder(config)
    async with connection() as conn:
        visible = await visible_files(conn, principal.user_id, principal.is_admin, refs)
        check_refs(refs, visible)
        ready = [f for f in visible.files if f.status == "ready" and f.chunk_count > 0]
        terms = (
            await query_terms(conn, text, config.text_search_config)
            if chosen != "vector" and ready
            else None
        )
    if chosen != "text":
        check_models(visible, embed.model)
    if not ready:
        # Nothing searchable yet: no upstream call for a query that cannot match anything.
        return []
    vector = None if chosen == "text" else (await embed.embed([text]))[0]
    candidates = max(limit * CANDIDATES_PER_RESULT, MIN_CANDIDATES)
    visible_chunks = sum(f.chunk_count for f in ready)
    request = SearchRequest(
        user_id=principal.user_id,
        is_admin=principal.is_admin,
        files={f.id: f.name for f in ready},
        model=embed.model,
        dimensions=embed.dimensions,
        vector=vector,
        terms=terms,
        candidates=candidates,
        k=limit,
        mode=chosen,
        max_per_file=max_per_file,
        fusion=Fusion(config.rrf_k, config.rrf_vector_weight, config.rrf_text_weight),
    )
    plan = (
        SearchPlan("exact")
        if chosen == "text"
        else choose_plan(
            visible_chunks=visible_chunks,
            total_chunks=visible.total_chunks,
            dimensions=embed.dimensions,
            candidates=candidates,
            ef_search=config.ef_search,
            exact_max=config.exact_search_max_chunks,
            max_scan_cap=config.max_scan_tuples,
        )
    )
    async with connection() as conn:
        result = await search(conn, request, plan)
    if plan.method == "iterative" and result.vector_found < min(candidates, visible_chunks):
        # The index came back short of what exists: the exact scan always finds every one.
        get_logger().info(
            "iterative scan came back short; searching exactly",
            extra={"found": result.vector_found, "visible_chunks": visible_chunks},
        )
        plan = SearchPlan("exact")
        async with connection() as conn:
            result = await search(conn, request, plan)
    _record(started, plan, chosen)
    return result.sources


def _record(started: float, plan: SearchPlan, mode: Mode) -> None:
    metrics = get_metrics()
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name="RetrievalLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    metrics.add_metric(
        name="RetrievalExactScans" if plan.method == "exact" else "RetrievalIndexScans",
        unit=MetricUnit.Count,
        value=1,
    )
    get_logger().debug(
        "retrieval", extra={"plan": plan.method, "mode": mode, "ms": round(elapsed_ms, 2)}
    )
