"""``files`` on a completion: retrieve from the caller's files and collections, ground the prompt.

The latest user message is the query, as it is: no extra model call rewrites it. The sources go
into the prompt through ``RAG_TEMPLATE`` (numbered, as the answer should cite them), back to the
client on the first chunk (and in a non-streamed answer), and into the saved answer. A file or
collection the caller may not use is a 404 before any upstream call (``stratus.retrieval``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from functions.chat.schemas.messages import TextPart, UserMessage, text_of
from functions.chat.schemas.openai import ChatCompletionRequest
from stratus.auth import Principal
from stratus.errors import ValidationError
from stratus.retrieval import Ref, Source, render_context, retrieve
from stratus.settings import rag_settings


async def ground(
    principal: Principal, req: ChatCompletionRequest
) -> tuple[ChatCompletionRequest, list[dict[str, Any]]]:
    """The request the model sees (the last user message grounded in the sources) and the
    sources as the client and the saved answer get them."""
    assert req.files
    last = req.messages[-1]
    if not isinstance(last, UserMessage):
        raise ValidationError(
            "With files, the last message must be the user's question.", param="messages"
        )
    query = text_of(last.content)
    refs = [Ref(ref.type, ref.id) for ref in req.files]
    # At most STRATUS_RAG_CHAT_MAX_PER_FILE (2) chunks of one file while others have matches.
    sources: list[Source] = await retrieve(
        principal, refs, query, max_per_file=rag_settings().chat_max_per_file
    )
    if not sources:
        return req, []
    prompt = render_context(rag_settings().template, sources, query)
    if isinstance(last.content, str):
        content: Any = prompt
    else:
        # Images stay; the text parts become the grounded prompt.
        content = [TextPart(prompt), *(p for p in last.content if not isinstance(p, TextPart))]
    grounded = msgspec.structs.replace(last, content=content)
    messages = [*req.messages[:-1], grounded]
    return msgspec.structs.replace(req, messages=messages), [s.to_dict() for s in sources]
