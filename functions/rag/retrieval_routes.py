"""Open WebUI's ``/api/v1/retrieval``: query a file or collections, (re)process a file."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from functions.rag import deps
from functions.rag.files_service import FilesService
from functions.rag.knowledge_service import KnowledgeService
from functions.rag.retrieval_service import RetrievalService, ref_for
from functions.rag.schemas import (
    FileResponse,
    ProcessFileForm,
    QueryCollectionForm,
    QueryDocForm,
    QueryResult,
)
from functions.rag.views import file_response
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access

# Names in the body can point at anyone's files; the service answers 404 for someone else's.
OWNER = access(Access.OWNER)
# 404 for a name the caller may not use; 409 when chunks were embedded with another model;
# 503 when the model host is away.
_QUERY_ERRORS = may_answer(404, 409, 503)


class RetrievalController(Controller):
    path = "/api/v1/retrieval"
    tags = ["retrieval"]
    dependencies = {
        "retrieval": Provide(deps.provide_retrieval, sync_to_thread=False),
        "files": Provide(deps.provide_files, sync_to_thread=False),
        "knowledge": Provide(deps.provide_knowledge, sync_to_thread=False),
    }

    @post("/query/doc", status_code=200, opt={**OWNER, **_QUERY_ERRORS})
    async def query_doc(
        self,
        principal: NamedDependency[Principal],
        retrieval: NamedDependency[RetrievalService],
        data: JSONBody[QueryDocForm],
    ) -> QueryResult:
        """The top ``k`` chunks of one file (``file-<id>``) or collection for ``query``:
        ``mode`` hybrid (vectors and BM25 full text, the default), vector or text;
        ``max_per_file`` caps one file's chunks while other files have matches."""
        return await retrieval.query(
            principal,
            [data.collection_name],
            data.query,
            k=data.k,
            hybrid=data.hybrid,
            mode=data.mode,
            max_per_file=data.max_per_file,
        )

    @post("/query/collection", status_code=200, opt={**OWNER, **_QUERY_ERRORS})
    async def query_collection(
        self,
        principal: NamedDependency[Principal],
        retrieval: NamedDependency[RetrievalService],
        data: JSONBody[QueryCollectionForm],
    ) -> QueryResult:
        """The top ``k`` chunks across several collections (or ``file-<id>`` names); ``mode``
        and ``max_per_file`` as for ``/query/doc``."""
        return await retrieval.query(
            principal,
            data.collection_names,
            data.query,
            k=data.k,
            hybrid=data.hybrid,
            mode=data.mode,
            max_per_file=data.max_per_file,
        )

    @post("/process/file", status_code=200, opt={**OWNER, **may_answer(404, 503)})
    async def process_file(
        self,
        principal: NamedDependency[Principal],
        files: NamedDependency[FilesService],
        knowledge: NamedDependency[KnowledgeService],
        data: JSONBody[ProcessFileForm],
    ) -> FileResponse:
        """Process the file again now (after a failure, or a change of embedding model), and
        add it to the collection ``collection_name`` if one is given."""
        row = await files.process_again(principal, data.file_id)
        if data.collection_name:
            target = ref_for(data.collection_name)
            if target.kind == "collection":
                await knowledge.add_file(principal, target.id, data.file_id)
        return file_response(row)
