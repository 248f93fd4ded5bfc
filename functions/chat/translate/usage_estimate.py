"""Token counts for an answer the upstream never counted: one cut off by a stop, a hang-up,
an upstream error or the time limit (its count comes on the last line, which never came).

Tokens relayed before the cut still count toward the daily budget (matrix row 33), so they are
estimated from what was relayed, the same way for every upstream, and marked as estimated:

- completion: the larger of the chunks that carried text or a tool call (Ollama streams one
  token per chunk) and the relayed characters divided by four;
- prompt: the characters of the prompt's text divided by four, plus four per message (the
  usual rule of thumb for English text; images are not counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from functions.chat.schemas.messages import text_of

if TYPE_CHECKING:
    from functions.chat.schemas.openai import ChatCompletionRequest

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def tokens_for_chars(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def prompt_tokens(texts: Iterable[str], messages: int = 0) -> int:
    return tokens_for_chars(sum(len(text) for text in texts)) + TOKENS_PER_MESSAGE * messages


def completion_tokens(chunks: int, chars: int) -> int:
    return max(chunks, tokens_for_chars(chars))


def request_prompt_tokens(request: ChatCompletionRequest) -> int:
    """The prompt of an OpenAI request, as sent upstream (grounding included)."""
    return prompt_tokens((text_of(m.content) for m in request.messages), len(request.messages))
