"""Chat messages as OpenAI clients send them to ``/v1/chat/completions``.

Messages and their parts ignore fields they do not know: a message copied back from a response
carries ``refusal``, ``annotations`` or ``audio``, and none of that can route or harm anything.
The request itself is strict (see ``openai.py``).

``content`` is ``str | list[...]`` with a plain ``str``: msgspec 0.22 frees a union's list node
wrongly when the union also holds a pattern-constrained ``str`` (the regex takes the list's
slot), which crashes the garbage collector later. So the text rule for a string ``content`` is
checked in ``policy.py`` instead; ``tests/unit/test_chat_schema_openai.py`` keeps such unions out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from stratus.web.text import MultiLine, SingleLine

# Client-chosen identifiers (message, chat and tool-call ids, names): one line, bounded.
Id = Annotated[SingleLine, Meta(min_length=1, max_length=256)]
Name = Annotated[SingleLine, Meta(min_length=1, max_length=256)]


class TextPart(Struct, tag_field="type", tag="text"):
    text: MultiLine


class ImageURL(Struct, omit_defaults=True):
    # Only base64 `data:` URLs are accepted (checked in policy.py): a link is never fetched.
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Struct, tag_field="type", tag="image_url"):
    image_url: ImageURL


class FunctionCall(Struct):
    name: Name
    # A JSON object encoded as a string, as the model produced it.
    arguments: MultiLine = ""


class ToolCall(Struct):
    id: Id
    function: FunctionCall
    type: Literal["function"] = "function"


class _Message(Struct, tag_field="role", omit_defaults=True, kw_only=True):
    name: Name | None = None


class SystemMessage(_Message, tag="system"):
    content: str | list[TextPart]


class DeveloperMessage(_Message, tag="developer"):
    content: str | list[TextPart]


class UserMessage(_Message, tag="user"):
    content: str | list[TextPart | ImagePart]


class AssistantMessage(_Message, tag="assistant"):
    # None (or absent) when the turn was only tool calls.
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(_Message, tag="tool"):
    content: str | list[TextPart]
    tool_call_id: Id


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage


def text_of(content: str | list[TextPart] | list[TextPart | ImagePart] | None) -> str:
    """The text of a message: a plain string, or its text parts joined by newlines.

    A newline keeps ``["look at", "this"]`` from reading as "look atthis".
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))
