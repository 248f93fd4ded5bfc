"""Builds the chat function's services from current settings, once per distinct settings value."""

from __future__ import annotations

import functools

from functions.chat.embeddings.service import EmbeddingsService
from functions.chat.generation.registry import GenerationRegistry
from stratus.settings import AwsSettings, ChatSettings, aws_settings, chat_settings


@functools.cache
def _registry(settings: ChatSettings, aws: AwsSettings) -> GenerationRegistry:
    return GenerationRegistry(settings, aws)


def provide_registry() -> GenerationRegistry:
    return _registry(chat_settings(), aws_settings())


def provide_embeddings() -> EmbeddingsService:
    return EmbeddingsService(provide_registry(), chat_settings())
