"""Rules for the text a request may carry, as msgspec-annotated ``str`` types any schema can use.

Postgres refuses NUL in text, terminals obey ANSI escapes, and right-to-left overrides make a
name display as something else; so every text field refuses control characters before any
hashing or SQL, with a 422 that names the field. Each type is a pattern, so the OpenAPI document
shows the rule too, and ``rule_for`` gives the error mapper the rule in plain words.

- ``SingleLine``: no control characters at all (C0 including tab and newline, DEL, C1). Emails,
  passwords, ids, titles, file and collection names.
- ``MultiLine``: tab, newline and carriage return allowed; every other control character
  (NUL, ESC and so on) refused. Message content, descriptions, prompts.
- ``DisplayName``: ``SingleLine`` that also refuses the bidirectional overrides and isolates
  (U+202A-U+202E, U+2066-U+2069), which make a name read differently from what it is. They are
  refused, not stripped, so what is stored is exactly what was sent.

Add lengths on top: ``Annotated[SingleLine, Meta(min_length=1, max_length=100)]``. Path and query
parameters take ``Parameter(pattern=SINGLE_LINE_PATTERN, ...)`` instead (``PathId`` is one). For
text that does not arrive through a schema (a multipart file name, a header), call ``check_text``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from litestar.params import Parameter
from msgspec import Meta

from stratus.errors import ValidationError

_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_CONTROLS_BUT_LINE_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
# Python's ``$`` also matches before a final newline, so patterns end in "nothing follows"
# instead, which Python and the ECMA dialect of OpenAPI clients read the same way.
_END = r"(?![\s\S])"

SINGLE_LINE_PATTERN = rf"^[^{_CONTROLS}]*{_END}"
MULTI_LINE_PATTERN = rf"^[^{_CONTROLS_BUT_LINE_BREAKS}]*{_END}"
DISPLAY_NAME_PATTERN = rf"^[^{_CONTROLS}{_BIDI_CONTROLS}]*{_END}"
_EMAIL_PART = rf"[^@\s{_CONTROLS}{_BIDI_CONTROLS}]+"
EMAIL_PATTERN = rf"^{_EMAIL_PART}@{_EMAIL_PART}{_END}"

SingleLine = Annotated[str, Meta(pattern=SINGLE_LINE_PATTERN)]
MultiLine = Annotated[str, Meta(pattern=MULTI_LINE_PATTERN)]
DisplayName = Annotated[str, Meta(pattern=DISPLAY_NAME_PATTERN)]
EmailAddress = Annotated[str, Meta(pattern=EMAIL_PATTERN)]

# Path and query parameters: Litestar reads their constraints from ``Parameter``, not ``Meta``.
PathId = Annotated[str, Parameter(pattern=SINGLE_LINE_PATTERN, min_length=1, max_length=128)]

_RULES = {
    SINGLE_LINE_PATTERN: "must not contain control characters (such as NUL, tab or line breaks)",
    MULTI_LINE_PATTERN: "must not contain control characters other than tab and line breaks",
    DISPLAY_NAME_PATTERN: (
        "must not contain control characters (such as NUL, tab, line breaks or terminal escapes)"
        " or right-to-left override characters"
    ),
    EMAIL_PATTERN: (
        "must be an email address like name@example.com, without spaces or control characters"
    ),
}
_COMPILED = {
    "single_line": re.compile(SINGLE_LINE_PATTERN),
    "multi_line": re.compile(MULTI_LINE_PATTERN),
    "display_name": re.compile(DISPLAY_NAME_PATTERN),
}
_PATTERN_OF = {
    "single_line": SINGLE_LINE_PATTERN,
    "multi_line": MULTI_LINE_PATTERN,
    "display_name": DISPLAY_NAME_PATTERN,
}

TextKind = Literal["single_line", "multi_line", "display_name"]


_RULES_BY_REPR = {repr(pattern): rule for pattern, rule in _RULES.items()}


def rule_for(pattern: str) -> str | None:
    """The plain-words rule behind one of this module's patterns, or None for another pattern."""
    return _RULES.get(pattern)


def rule_for_quoted(quoted_pattern: str) -> str | None:
    """The same, for a pattern as ``repr()`` quotes it (as msgspec's messages do)."""
    return _RULES_BY_REPR.get(quoted_pattern)


def check_text(value: str, field: str, kind: TextKind = "single_line") -> str:
    """The same rules for text that no schema decodes; raises a 422 naming ``field``."""
    if not _COMPILED[kind].search(value):
        rule = _RULES[_PATTERN_OF[kind]]
        raise ValidationError(f"Invalid request: {field}: {rule}.", param=field)
    return value
