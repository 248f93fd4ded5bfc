"""Pure OpenAI <-> Ollama (and OpenAI-compatible) translation: requests, chunks, errors.

No I/O: the engine moves bytes through these functions; the stop watcher, persistence and
limits sit beside them (STYLE.md principle 12). Table-tested against API-CONTRACT.md §3.
"""

from functions.chat.translate.chunks import (
    ChatStream,
    completion_object,
    error_payload,
    error_payload_for,
    usage_chunk,
)
from functions.chat.translate.errors import UpstreamStreamError
from functions.chat.translate.ollama_request import ollama_chat_body, takes_think_levels
from functions.chat.translate.ollama_stream import OllamaChatStream
from functions.chat.translate.openai_request import openai_chat_body
from functions.chat.translate.openai_stream import OpenAIChatStream

__all__ = [
    "ChatStream",
    "OllamaChatStream",
    "OpenAIChatStream",
    "UpstreamStreamError",
    "completion_object",
    "error_payload",
    "error_payload_for",
    "ollama_chat_body",
    "openai_chat_body",
    "takes_think_levels",
    "usage_chunk",
]
