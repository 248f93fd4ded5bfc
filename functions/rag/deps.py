"""Builds the rag function's services from current settings (once per distinct settings)."""

from __future__ import annotations

import functools

from functions.rag.files_service import FilesService
from functions.rag.files_store import FilesStore
from functions.rag.ingest import background
from functions.rag.ingest.pipeline import Ingestor
from functions.rag.knowledge_service import KnowledgeService
from functions.rag.knowledge_store import KnowledgeStore
from functions.rag.retrieval_service import RetrievalService
from stratus.settings import RagSettings, rag_settings, storage_settings
from stratus.storage import get_object_store


@functools.cache
def _files(settings: RagSettings, _storage: object) -> FilesService:
    objects = get_object_store()
    return FilesService(
        FilesStore(), objects, settings, Ingestor(objects, settings), background.schedule
    )


def provide_files() -> FilesService:
    return _files(rag_settings(), storage_settings())


def provide_knowledge() -> KnowledgeService:
    return KnowledgeService(KnowledgeStore(), provide_files())


def provide_retrieval() -> RetrievalService:
    return RetrievalService()
