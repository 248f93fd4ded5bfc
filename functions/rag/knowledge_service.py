"""Knowledge collections: named sets of a user's files. A collection holds no chunks of its own,
so adding a file embeds nothing, and the same file in two collections is stored once."""

from __future__ import annotations

import uuid

from functions.rag.files_service import FilesService
from functions.rag.knowledge_store import KnowledgeRow, KnowledgeStore, LinkedFile
from stratus.auth.principal import Principal
from stratus.errors import NotFoundError, ValidationError

PAGE_SIZE = 30
# Open WebUI's page of a collection's files; every collection response carries the first one.
FILES_PAGE_SIZE = 30
# Files one batch add may name.
BATCH_MAX = 1000


class KnowledgeService:
    def __init__(self, knowledge: KnowledgeStore, files: FilesService) -> None:
        self.knowledge = knowledge
        self.files = files

    async def create(
        self, principal: Principal, name: str, description: str
    ) -> tuple[KnowledgeRow, list[LinkedFile]]:
        row = await self.knowledge.create(str(uuid.uuid4()), principal.user_id, name, description)
        return row, []

    async def get(
        self, principal: Principal, knowledge_id: str
    ) -> tuple[KnowledgeRow, list[LinkedFile]]:
        row = await self._row(principal, knowledge_id)
        return row, await self._first_files(row.id)

    async def files_page(
        self, principal: Principal, knowledge_id: str, page: int | None
    ) -> tuple[list[LinkedFile], int]:
        row = await self._row(principal, knowledge_id)
        offset = ((page or 1) - 1) * FILES_PAGE_SIZE
        return await self.knowledge.files(row.id, limit=FILES_PAGE_SIZE, offset=offset)

    async def _first_files(self, knowledge_id: str) -> list[LinkedFile]:
        files, _ = await self.knowledge.files(knowledge_id, limit=FILES_PAGE_SIZE, count=False)
        return files

    async def page(
        self, principal: Principal, page: int | None
    ) -> tuple[list[tuple[KnowledgeRow, list[LinkedFile]]], int]:
        offset = ((page or 1) - 1) * PAGE_SIZE
        rows, total = await self.knowledge.page(principal.user_id, limit=PAGE_SIZE, offset=offset)
        return [(row, await self._first_files(row.id)) for row in rows], total

    async def update(
        self, principal: Principal, knowledge_id: str, name: str, description: str
    ) -> tuple[KnowledgeRow, list[LinkedFile]]:
        row = await self.knowledge.update(
            knowledge_id, principal.user_id, principal.is_admin, name, description
        )
        if row is None:
            raise NotFoundError("Knowledge not found")
        return row, await self._first_files(row.id)

    async def delete(self, principal: Principal, knowledge_id: str, *, delete_files: bool) -> bool:
        await self._row(principal, knowledge_id)
        doomed = (
            await self.knowledge.files_only_here(
                knowledge_id, principal.user_id, principal.is_admin
            )
            if delete_files
            else []
        )
        if not await self.knowledge.delete(knowledge_id, principal.user_id, principal.is_admin):
            raise NotFoundError("Knowledge not found")
        for file_id in doomed:
            try:
                await self.files.delete(principal, file_id)
            except NotFoundError:
                continue  # deleted meanwhile: what was asked for is done
        return True

    async def add_file(
        self, principal: Principal, knowledge_id: str, file_id: str
    ) -> tuple[KnowledgeRow, list[LinkedFile]]:
        row = await self._row(principal, knowledge_id)
        # The caller must be allowed to use the file too: someone else's is "not found".
        await self.files.get(principal, file_id)
        await self.knowledge.add_files(row.id, [file_id], principal.user_id, principal.is_admin)
        return await self.get(principal, knowledge_id)

    async def add_files(
        self, principal: Principal, knowledge_id: str, file_ids: list[str]
    ) -> tuple[KnowledgeRow, list[LinkedFile], list[str]]:
        """Open WebUI's batch add: the files the caller may use are linked; the others (someone
        else's, or missing: the same to the caller) are named in the answer's warnings."""
        if not 1 <= len(file_ids) <= BATCH_MAX:
            raise ValidationError(
                f"Invalid request: the body must list between 1 and {BATCH_MAX} files."
            )
        row = await self._row(principal, knowledge_id)
        wanted = list(dict.fromkeys(file_ids))
        refused = await self.knowledge.add_files(
            row.id, wanted, principal.user_id, principal.is_admin
        )
        row, files = await self.get(principal, knowledge_id)
        return row, files, refused

    async def remove_file(
        self, principal: Principal, knowledge_id: str, file_id: str, *, delete_file: bool
    ) -> tuple[KnowledgeRow, list[LinkedFile]]:
        row = await self._row(principal, knowledge_id)
        await self.files.get(principal, file_id)
        if not await self.knowledge.remove_file(row.id, file_id):
            raise NotFoundError("File not found in this knowledge")
        if delete_file:
            await self.files.delete(principal, file_id)
        return await self.get(principal, knowledge_id)

    async def _row(self, principal: Principal, knowledge_id: str) -> KnowledgeRow:
        row = await self.knowledge.get(knowledge_id, principal.user_id, principal.is_admin)
        if row is None:
            raise NotFoundError("Knowledge not found")
        return row
