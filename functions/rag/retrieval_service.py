"""Open WebUI's retrieval routes over the shared ``stratus.retrieval``: names in, chunks out.

Open WebUI names what to search the way its vector store does: ``file-<id>`` for one file, and a
knowledge collection's id for the collection. The same names work here.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.rag.schemas import ChunkMetadata, QueryResult
from stratus.auth.principal import Principal
from stratus.retrieval import Mode, Ref, Source, retrieve

FILE_PREFIX = "file-"


def ref_for(name: str) -> Ref:
    if name.startswith(FILE_PREFIX) and len(name) > len(FILE_PREFIX):
        return Ref("file", name[len(FILE_PREFIX) :])
    return Ref("collection", name)


def query_result(sources: Sequence[Source]) -> QueryResult:
    return QueryResult(
        ids=[[s.id for s in sources]],
        documents=[[s.text for s in sources]],
        metadatas=[
            [
                ChunkMetadata(
                    file_id=s.file_id,
                    name=s.name,
                    source=s.name,
                    position=s.position,
                    chunk_id=s.id,
                    score=s.score,
                    similarity=s.similarity,
                )
                for s in sources
            ]
        ],
        distances=[[s.score for s in sources]],
    )


class RetrievalService:
    async def query(
        self,
        principal: Principal,
        names: Sequence[str],
        query: str,
        *,
        k: int | None,
        hybrid: bool | None,
        mode: Mode | None = None,
        max_per_file: int | None = None,
    ) -> QueryResult:
        refs = list(dict.fromkeys(ref_for(name) for name in names))
        sources = await retrieve(
            principal, refs, query, k=k, hybrid=hybrid, mode=mode, max_per_file=max_per_file
        )
        return query_result(sources)
