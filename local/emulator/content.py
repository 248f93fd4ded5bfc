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

from local.emulator.grounded import grounded_reply_text, is_grounded

EMBEDDING_DIM = 384
REPLY_PREFIX = "You said:"
EMPTY_REPLY = "You said nothing."
# A user message starting with this is answered with the rest of it, verbatim (newlines, Markdown
# and HTML kept): how tests make a model say exactly what they need, hostile markup included.
ECHO_PREFIX = "echo:"

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


def reply_text(prompt: str, images: int = 0) -> str:
    # Whitespace is normalised so the reply's tokens are trivially predictable.
    words = prompt.split()
    text = f"{REPLY_PREFIX} {' '.join(words)}" if words else EMPTY_REPLY
    if images:
        # So a test can prove images arrived where the model looks for them.
        text += f" ({images} image{'' if images == 1 else 's'})"
    return text


def last_user_message(messages: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    found = None
    for message in messages:
        if message.get("role") == "user":
            found = message
    return found


def last_user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    message = last_user_message(messages)
    return "" if message is None else message_text(message.get("content"))


def count_images(message: Mapping[str, Any]) -> int:
    """Images on one message: Ollama's `images` list, or OpenAI `image_url` content parts."""
    images = message.get("images")
    count = len(images) if isinstance(images, list) else 0
    content = message.get("content")
    if isinstance(content, list):
        count += sum(
            1 for part in content if isinstance(part, Mapping) and part.get("type") == "image_url"
        )
    return count


def tool_result_text(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """What the model says when the conversation ends with a tool's answer, else None.

    The tool is named as the request named it: Ollama's `tool_name`, or (OpenAI) the call that
    `tool_call_id` answers, so a test can see that a translation kept the link.
    """
    if not messages or messages[-1].get("role") != "tool":
        return None
    last = messages[-1]
    name = last.get("tool_name") or last.get("name") or _called_name(messages, last)
    words = message_text(last.get("content")).split()
    said = f"said: {' '.join(words)}" if words else "said nothing."
    return f"Tool {name or 'unknown'} {said}"


def _called_name(messages: Sequence[Mapping[str, Any]], answer: Mapping[str, Any]) -> str | None:
    wanted = answer.get("tool_call_id")
    for message in reversed(messages):
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping) and call.get("id") == wanted:
                function = call.get("function")
                if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                    return str(function["name"])
    return None


def plain_reply_text(messages: Sequence[Mapping[str, Any]], *, echo_grounded: bool = False) -> str:
    """The text reply (no tools offered, no format, no thinking) to `messages`.

    A grounded prompt (numbered ``<source>`` blocks) is answered with its best source sentence
    and ``[N]`` (``grounded``), or, with `echo_grounded`, echoed like any other message."""
    tool_reply = tool_result_text(messages)
    if tool_reply is not None:
        return tool_reply
    message = last_user_message(messages)
    if message is None:
        return reply_text("")
    text = message_text(message.get("content"))
    if text.startswith(ECHO_PREFIX):
        return echo_text(text)
    if not echo_grounded and is_grounded(text):
        return grounded_reply_text(text)
    return reply_text(text, count_images(message))


def echo_text(text: str) -> str:
    """The answer to an ``echo:`` message: what follows the prefix, leading whitespace dropped."""
    return text[len(ECHO_PREFIX) :].lstrip()


def expected_reply(
    messages: Sequence[Mapping[str, Any]], *, echo_grounded: bool = False
) -> list[str]:
    """Tokens the chat model streams for `messages`: one streamed chunk per token."""
    return split_tokens(plain_reply_text(messages, echo_grounded=echo_grounded))


def expected_generate_reply(prompt: str) -> list[str]:
    """Tokens /api/generate streams for `prompt`."""
    return split_tokens(reply_text(prompt))


def prompt_token_count(messages: Iterable[Mapping[str, Any]]) -> int:
    return sum(count_tokens(message_text(m.get("content"))) for m in messages)


def token_ids(tokens: Iterable[str]) -> list[int]:
    """Stand-in vocabulary ids for /api/generate's `context`."""
    return [_stable_int(token.strip().encode()) % _VOCAB_SIZE for token in tokens]


def embed_text(
    text: str, dimensions: int | None = None, *, model_dimensions: int = EMBEDDING_DIM
) -> list[float]:
    """Unit-length feature-hashed bag of lowercased words, in a model's `model_dimensions`.

    Texts sharing words get a clearly positive cosine similarity; texts sharing none stay
    near zero. `dimensions` truncates before normalising, like Ollama's `dimensions` option.
    """
    if dimensions is None:
        dimensions = model_dimensions
    if not 1 <= dimensions <= model_dimensions:
        raise ValueError(f"dimensions must be between 1 and {model_dimensions}")
    vector = [0.0] * model_dimensions
    # An empty text still has to map to a unit vector, so it hashes a sentinel word.
    words = _WORD_PATTERN.findall(text.lower()) or ["\x00"]
    for word in words:
        digest = hashlib.blake2b(word.encode(), digest_size=4 * _SLOTS_PER_WORD).digest()
        for slot in range(_SLOTS_PER_WORD):
            value = int.from_bytes(digest[4 * slot : 4 * slot + 4], "big")
            sign = 1.0 if value & 1 else -1.0
            vector[(value >> 1) % model_dimensions] += sign
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
