"""Builds the chat function's services from current settings, once per distinct settings value."""

from __future__ import annotations

import functools

from functions.chat.chats.store import ChatsStore
from functions.chat.embeddings.service import EmbeddingsService
from functions.chat.generation.registry import GenerationRegistry
from functions.chat.generation.report import report_generation
from functions.chat.generation.service import GenerationService
from functions.chat.generation.turns import TurnKeeper
from functions.chat.ollama.service import OllamaProxy
from functions.chat.tasks.service import StopService
from stratus.settings import AwsSettings, ChatSettings, aws_settings, chat_settings


@functools.cache
def _registry(settings: ChatSettings, aws: AwsSettings) -> GenerationRegistry:
    return GenerationRegistry(settings, aws)


@functools.cache
def _store(stale_after: float) -> ChatsStore:
    return ChatsStore(stale_after=stale_after)


@functools.cache
def _generations(settings: ChatSettings, aws: AwsSettings) -> GenerationService:
    turns = TurnKeeper(_store(settings.stale_after))
    return GenerationService(turns, turns, _registry(settings, aws), report_generation, settings)


def provide_registry() -> GenerationRegistry:
    return _registry(chat_settings(), aws_settings())


def provide_generations() -> GenerationService:
    return _generations(chat_settings(), aws_settings())


def provide_embeddings() -> EmbeddingsService:
    return EmbeddingsService(provide_registry(), chat_settings())


def provide_ollama() -> OllamaProxy:
    return OllamaProxy(provide_generations(), provide_registry(), chat_settings())


def provide_stops() -> StopService:
    return StopService(provide_registry(), _store(chat_settings().stale_after))
