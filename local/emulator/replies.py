"""What a chat model does with a whole request: think, call a tool, answer in JSON, or talk.

Pure and deterministic, shared by both APIs (they only render the plan differently), and
public through the `expected_*` helpers so tests can predict every reply:

* **thinking** (a thinking model given `think`): `thinking_text(prompt, level)` streams first.
* **tools**: when tools are offered and the last message is the user's saying
  `call <name>` or `use <name>` for one of them, the answer is one call to it, with
  arguments built from the words after the name (`tool_arguments`).
* **format** (`"json"` or a JSON schema): the answer is `json_text(prompt, schema)`.
* otherwise the plain reply (`content.plain_reply_text`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.emulator.content import last_user_text, message_text, plain_reply_text, split_tokens

_TRIGGER = re.compile(r"\b(?:call|use)\s+([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# Deep enough for any schema a test writes; deeper levels are left empty.
_MAX_SCHEMA_DEPTH = 8


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatPlan:
    thinking: list[str]
    content: list[str]
    tool_call: ToolCall | None
    # Whether the token limit cut the reply short ("length").
    truncated: bool

    @property
    def eval_count(self) -> int:
        """Generated tokens, as Ollama counts them: thinking, the answer and a call."""
        return len(self.thinking) + len(self.content) + (1 if self.tool_call else 0)

    @property
    def units(self) -> int:
        """Streamed chunks before the final line: one per token, one for the call."""
        return self.eval_count


def plan_chat(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Any] = (),
    format_: str | Mapping[str, Any] | None = None,
    think: str | None = None,
    limit: int | None = None,
    echo_grounded: bool = False,
) -> ChatPlan:
    """`think` is the thinking level ("default" for `true`), None when not thinking."""
    prompt = last_user_text(messages)
    thinking = split_tokens(thinking_text(prompt, think)) if think else []
    call = planned_tool_call(messages, tools)
    if call is not None:
        content: list[str] = []
    elif format_ is not None:
        content = split_tokens(json_text(prompt, format_ if isinstance(format_, Mapping) else None))
    else:
        content = split_tokens(plain_reply_text(messages, echo_grounded=echo_grounded))
    truncated = False
    if limit is not None and len(thinking) + len(content) > limit:
        truncated = True
        thinking, content = thinking[:limit], content[: max(0, limit - len(thinking))]
    return ChatPlan(thinking, content, call, truncated)


def thinking_text(prompt: str, level: str) -> str:
    count = len(prompt.split())
    return f"Thinking ({level}) about {count} word{'' if count == 1 else 's'}."


def planned_tool_call(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Any]
) -> ToolCall | None:
    if not tools or not messages or messages[-1].get("role") != "user":
        return None
    offered = {
        function["name"]: function
        for tool in tools
        if isinstance(tool, Mapping)
        and isinstance(function := tool.get("function"), Mapping)
        and isinstance(function.get("name"), str)
    }
    text = message_text(messages[-1].get("content"))
    for match in _TRIGGER.finditer(text):
        name = match.group(1)
        if name in offered:
            words = text[match.end() :].split()
            return ToolCall(name, tool_arguments(offered[name].get("parameters"), words))
    return None


def tool_arguments(parameters: Any, words: list[str]) -> dict[str, Any]:
    """Arguments for every declared property, from the words after the tool's name."""
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    return {name: _fill(spec, words, name, 1) for name, spec in properties.items()}


def json_text(prompt: str, schema: Mapping[str, Any] | None) -> str:
    """The JSON answer for `format`: `{"text": ...}` in plain JSON mode, else a value valid
    against a simple `schema` (strings get the message's words, numbers its word count)."""
    words = prompt.split()
    value = {"text": " ".join(words)} if schema is None else _fill(schema, words, "value", 0)
    return json.dumps(value, ensure_ascii=False)


def _fill(schema: Any, words: list[str], name: str, depth: int) -> Any:
    if not isinstance(schema, Mapping):
        return " ".join(words) or name
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and isinstance(schema.get("properties"), Mapping):
        kind = "object"
    if kind == "object":
        properties = schema.get("properties")
        if depth >= _MAX_SCHEMA_DEPTH or not isinstance(properties, Mapping):
            return {}
        return {key: _fill(spec, words, key, depth + 1) for key, spec in properties.items()}
    if kind == "array":
        items = schema.get("items")
        return [_fill(items, [word], name, depth + 1) for word in words] if words else []
    if kind in ("integer", "number"):
        return len(words)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return " ".join(words) or name


def expected_thinking(messages: Sequence[Mapping[str, Any]], level: str = "default") -> list[str]:
    """Thinking tokens a thinking model streams before its answer."""
    return split_tokens(thinking_text(last_user_text(messages), level))


def expected_tool_call(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Any]
) -> ToolCall | None:
    return planned_tool_call(messages, tools)


def expected_json(
    messages: Sequence[Mapping[str, Any]], schema: Mapping[str, Any] | None = None
) -> Any:
    """The object a `format` request answers with (parsed)."""
    return json.loads(json_text(last_user_text(messages), schema))
