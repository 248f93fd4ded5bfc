"""Open WebUI's ``/api/v1/knowledge``: collections of files to search together."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from functions.rag import deps
from functions.rag.knowledge_service import KnowledgeService
from functions.rag.schemas import (
    BatchWarnings,
    KnowledgeFileBatch,
    KnowledgeFileForm,
    KnowledgeFileList,
    KnowledgeForm,
    KnowledgeList,
    KnowledgeResponse,
)
from functions.rag.views import file_summary, knowledge_response
from stratus.auth import Principal
from stratus.openapi import may_answer
from stratus.web.access import Access, access
from stratus.web.text import PathId

USER = access(Access.USER)
OWNER = access(Access.OWNER)
Page = Annotated[int | None, QueryParameter(ge=1, le=100_000, required=False)]


class KnowledgeController(Controller):
    """Routes answer 200 (Open WebUI's). Open WebUI's ``/{id}/update`` and ``/{id}/delete``
    work too, next to ``POST`` and ``DELETE`` on ``/{id}``."""

    path = "/api/v1/knowledge"
    tags = ["knowledge"]
    dependencies = {"knowledge": Provide(deps.provide_knowledge, sync_to_thread=False)}

    @post("/create", status_code=200, opt=USER)
    async def create(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        data: JSONBody[KnowledgeForm],
    ) -> KnowledgeResponse:
        return knowledge_response(*await knowledge.create(principal, data.name, data.description))

    @get("/", opt=USER)
    async def list_knowledge(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        page: Page = None,
    ) -> KnowledgeList:
        """The caller's collections, 30 per page, most recently changed first."""
        items, total = await knowledge.page(principal, page)
        return KnowledgeList(items=[knowledge_response(*item) for item in items], total=total)

    @get("/{knowledge_id:str}", opt=OWNER)
    async def get_knowledge(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
    ) -> KnowledgeResponse:
        return knowledge_response(*await knowledge.get(principal, knowledge_id))

    @post(["/{knowledge_id:str}", "/{knowledge_id:str}/update"], status_code=200, opt=OWNER)
    async def update(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
        data: JSONBody[KnowledgeForm],
    ) -> KnowledgeResponse:
        """Rename the collection or change its description."""
        return knowledge_response(
            *await knowledge.update(principal, knowledge_id, data.name, data.description)
        )

    @delete(
        ["/{knowledge_id:str}", "/{knowledge_id:str}/delete"],
        status_code=200,
        opt={**OWNER, **may_answer(503)},
    )
    async def delete_knowledge(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
        delete_files: Annotated[bool, QueryParameter()] = False,
    ) -> bool:
        """The collection goes; its files stay (they are still the user's files), unless
        ``delete_files=true``, which also deletes the ones no other collection holds."""
        return await knowledge.delete(principal, knowledge_id, delete_files=delete_files)

    @post("/{knowledge_id:str}/file/add", status_code=200, opt=OWNER)
    async def add_file(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
        data: JSONBody[KnowledgeFileForm],
    ) -> KnowledgeResponse:
        """Add one of the caller's files. Its chunks are reused: nothing is embedded again. The
        answer carries the first page of the collection's files, so an add costs the same at
        10 files and at 10,000."""
        return knowledge_response(*await knowledge.add_file(principal, knowledge_id, data.file_id))

    @post("/{knowledge_id:str}/files/batch/add", status_code=200, opt=OWNER)
    async def add_files(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
        data: JSONBody[KnowledgeFileBatch],
    ) -> KnowledgeResponse:
        """Open WebUI's batch add: ``[{"file_id": ...}, ...]`` (up to 1,000) in one call, one
        statement. Files the caller may not use are left out and named in ``warnings``."""
        row, files, refused = await knowledge.add_files(
            principal, knowledge_id, [item.file_id for item in data]
        )
        response = knowledge_response(row, files)
        if refused:
            response.warnings = BatchWarnings(
                message="Some files were not added",
                errors=[f"{file_id}: File not found" for file_id in refused],
            )
        return response

    @get("/{knowledge_id:str}/files", opt=OWNER)
    async def list_files(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
        page: Page = None,
    ) -> KnowledgeFileList:
        """The collection's files, 30 per ``page``, in the order they were added (Open
        WebUI's route); ``total`` counts them all."""
        files, total = await knowledge.files_page(principal, knowledge_id, page)
        return KnowledgeFileList(items=[file_summary(f) for f in files], total=total)

    @post("/{knowledge_id:str}/file/remove", status_code=200, opt={**OWNER, **may_answer(503)})
    async def remove_file(
        self,
        principal: NamedDependency[Principal],
        knowledge: NamedDependency[KnowledgeService],
        knowledge_id: PathId,
        data: JSONBody[KnowledgeFileForm],
        delete_file: Annotated[bool, QueryParameter()] = True,
    ) -> KnowledgeResponse:
        """Take a file out of the collection. As in Open WebUI, the file itself is deleted too
        unless ``delete_file=false``."""
        return knowledge_response(
            *await knowledge.remove_file(
                principal, knowledge_id, data.file_id, delete_file=delete_file
            )
        )
