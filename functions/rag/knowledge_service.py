"""Knowledge collections: named sets of a user's files. A collection holds no chunks of its own,
so adding a file embeds nothing, and the same file in two collections is stored once."""

from __future__ import annotations

import uuid

from functions.rag.files_service import FilesService
from functions.rag.knowledge_store import KnowledgeRow, KnowledgeStore, LinkedFile
from stratus.auth.principal import Principal
from stratus.errors import NotFoundError

PAGE_SIZE = 30


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
        return row, await self.knowledge.files(row.id)

    async def page(
        self, principal: Principal, page: int | None
    ) -> tuple[list[tuple[KnowledgeRow, list[LinkedFile]]], int]:
        offset = ((page or 1) - 1) * PAGE_SIZE
        rows, total = await self.knowledge.page(principal.user_id, limit=PAGE_SIZE, offset=offset)
        return [(row, await self.knowledge.files(row.id)) for row in rows], total

    async def update(
        self, principal: Principal, knowledge_id: str, name: str, description: str
    ) -> tuple[KnowledgeRow, list[LinkedFile]]:
        row = await self.knowledge.update(
            knowledge_id, principal.user_id, principal.is_admin, name, description
        )
        if row is None:
            raise NotFoundError("Knowledge not found")
        return row, await self.knowledge.files(row.id)

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
        await self.knowledge.add_file(row.id, file_id)
        return await self.get(principal, knowledge_id)

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
