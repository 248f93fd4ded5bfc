"""What the emulated models "say": deterministic replies, token counts and embeddings.

Everything here is a pure function of its input so tests can predict a reply or a vector
without talking to the emulator.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

EMBEDDING_DIM = 384
REPLY_PREFIX = "You said:"
EMPTY_REPLY = "You said nothing."

# Each word hashes to 16 signed slots (a sparse random projection). With one slot per word a
# single collision makes two unrelated one-word texts look ~100% similar; spread over 16 slots
# a collision costs 1/16 of a match, so texts sharing no words stay near zero similarity.
_SLOTS_PER_WORD = 16
_TOKEN_PATTERN = re.compile(r"\s*\S+")
_WORD_PATTERN = re.compile(r"\w+")
_VOCAB_SIZE = 32_000


def split_tokens(text: str) -> list[str]:
    """Word tokens, each carrying its leading whitespace, so that joining them rebuilds the text."""
    return _TOKEN_PATTERN.findall(text)


def count_tokens(text: str) -> int:
    return len(text.split())


def message_text(content: Any) -> str:
    """Text of a message `content`: a plain string (Ollama) or a list of parts (OpenAI)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def reply_text(prompt: str) -> str:
    # Whitespace is normalised so the reply's tokens are trivially predictable.
    words = prompt.split()
    return f"{REPLY_PREFIX} {' '.join(words)}" if words else EMPTY_REPLY


def last_user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    text = ""
    for message in messages:
        if message.get("role") == "user":
            text = message_text(message.get("content"))
    return text


def expected_reply(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """Tokens the chat model streams for `messages`: one streamed chunk per token."""
    return split_tokens(reply_text(last_user_text(messages)))


def expected_generate_reply(prompt: str) -> list[str]:
    """Tokens /api/generate streams for `prompt`."""
    return split_tokens(reply_text(prompt))


def prompt_token_count(messages: Iterable[Mapping[str, Any]]) -> int:
    return sum(count_tokens(message_text(m.get("content"))) for m in messages)


def token_ids(tokens: Iterable[str]) -> list[int]:
    """Stand-in vocabulary ids for /api/generate's `context`."""
    return [_stable_int(token.strip().encode()) % _VOCAB_SIZE for token in tokens]


def embed_text(text: str, dimensions: int = EMBEDDING_DIM) -> list[float]:
    """Unit-length feature-hashed bag of lowercased words.

    Texts sharing words get a clearly positive cosine similarity; texts sharing none stay
    near zero. `dimensions` truncates before normalising, like Ollama's `dimensions` option.
    """
    if not 1 <= dimensions <= EMBEDDING_DIM:
        raise ValueError(f"dimensions must be between 1 and {EMBEDDING_DIM}")
    vector = [0.0] * EMBEDDING_DIM
    # An empty text still has to map to a unit vector, so it hashes a sentinel word.
    words = _WORD_PATTERN.findall(text.lower()) or ["\x00"]
    for word in words:
        digest = hashlib.blake2b(word.encode(), digest_size=4 * _SLOTS_PER_WORD).digest()
        for slot in range(_SLOTS_PER_WORD):
            value = int.from_bytes(digest[4 * slot : 4 * slot + 4], "big")
            sign = 1.0 if value & 1 else -1.0
            vector[(value >> 1) % EMBEDDING_DIM] += sign
    return _normalised(vector[:dimensions])


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _normalised(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        # Only reachable after truncation dropped every non-zero slot.
        return [1.0] + [0.0] * (len(vector) - 1)
    return [x / norm for x in vector]


def _stable_int(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")
