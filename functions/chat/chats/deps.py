"""Builds the chats service from current settings, once per distinct settings value."""

from __future__ import annotations

import functools

from functions.chat.chats.service import ChatsService
from functions.chat.chats.store import ChatsStore
from stratus.settings import chat_settings


@functools.cache
def _chats(stale_after: float) -> ChatsService:
    return ChatsService(ChatsStore(stale_after=stale_after))


def provide_chats() -> ChatsService:
    return _chats(chat_settings().stale_after)
