"""Retrieval over files and knowledge collections: shared by the rag function and chat.

The API chat uses for ``files`` on a completion::

    from stratus.retrieval import Ref, Source, render_context, retrieve

    refs = [Ref("file", file_id), Ref("collection", knowledge_id)]   # from the request's files
    sources = await retrieve(principal, refs, last_user_message)    # list[Source], best first
    prompt = render_context(rag_settings().template, sources, last_user_message)
    first_chunk["sources"] = [s.to_dict() for s in sources]         # and saved with the message

- ``retrieve(principal, refs, query, *, k=None, mode=None, max_per_file=None, hybrid=None)
  -> list[Source]``: raises ``NotFoundError`` (404) for any ref the caller may not use (someone
  else's, or missing: the two are indistinguishable, matrix row 2) before any upstream call, and
  ``EmbeddingMismatchError`` (409) when a file was embedded with another model than the
  configured one (not in ``text`` mode, which needs no embedding). ``k`` defaults to
  ``RAG_TOP_K``; ``mode`` is ``hybrid``, ``vector`` or ``text`` (default: hybrid, or Open WebUI's
  ``hybrid`` switch, or ``ENABLE_RAG_HYBRID_SEARCH``); ``max_per_file`` caps the chunks one
  file contributes while other files still have matches (grounded chat passes 2). Files not
  ``ready`` yet are skipped; if nothing is searchable the result is empty and no upstream call
  is made. At most one embedding call (the query); two or three SQL round trips. The access
  filter is in the SQL (``store.py``).
- ``render_context(template, sources, query) -> str``: ``RAG_TEMPLATE`` with ``{{CONTEXT}}``
  (the sources, numbered from 1 as ``<source id="n" name=... position=...>``) and ``{{QUERY}}``.
- ``Source``: ``id`` (chunk), ``file_id``, ``name`` (file name), ``position`` (chunk number in the
  file), ``score``, ``similarity``, ``text``; ``to_dict()`` is its JSON form.

Search is hybrid by default: pgvector cosine distance and BM25 over the chunks' lexemes (any
query term matches; ``lexical.py``), fused with reciprocal rank fusion (its constant and each
side's weight are settings). Which vector plan runs (exact or HNSW iterative scan) is chosen
per query from how many chunks the caller can see (``plan.py``).

This module imports nothing heavy: ``retrieve`` loads the database and HTTP code on first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stratus.retrieval.context import render_context
from stratus.retrieval.types import Mode, Ref, RefKind, Source

if TYPE_CHECKING:
    from stratus.auth.principal import Principal
    from stratus.retrieval.embedding import Embedder
    from stratus.settings import RagSettings


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
    """The best ``k`` chunks for ``query`` among the files and collections in ``refs``."""
    from stratus.retrieval.search import retrieve as search_refs

    return await search_refs(
        principal,
        refs,
        query,
        k=k,
        hybrid=hybrid,
        mode=mode,
        max_per_file=max_per_file,
        settings=settings,
        embedder=embedder,
    )


__all__ = ["Mode", "Ref", "RefKind", "Source", "render_context", "retrieve"]
