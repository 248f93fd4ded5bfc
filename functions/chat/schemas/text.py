"""Text rules for request fields, as msgspec-annotated ``str`` types.

A stand-in for ``stratus.web.text`` (branch ``harden-input-spec``), which was not on main when
this was written. The patterns are the same strings, so the shared error mapper's plain-words
rules recognise them either way. When that module lands, replace the definitions below with
``from stratus.web.text import MultiLine, SingleLine, check_text`` and delete the rest of this
file (``check_text`` has the same signature and message).

- ``SingleLine``: no control characters at all (ids, names, the ``user`` field).
- ``MultiLine``: tab, newline and carriage return allowed, every other control character
  (NUL, ESC, C1) refused: message content. Postgres refuses NUL in text, so a NUL must fail
  at the edge with a 422 naming the field, not as a 500 when the turn is saved.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from msgspec import Meta

from stratus.errors import ValidationError

_CONTROLS = r"\x00-\x1f\x7f-\x9f"
_CONTROLS_BUT_LINE_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Python's ``$`` also matches before a final newline; "nothing follows" does not.
_END = r"(?![\s\S])"

SINGLE_LINE_PATTERN = rf"^[^{_CONTROLS}]*{_END}"
MULTI_LINE_PATTERN = rf"^[^{_CONTROLS_BUT_LINE_BREAKS}]*{_END}"

SingleLine = Annotated[str, Meta(pattern=SINGLE_LINE_PATTERN)]
MultiLine = Annotated[str, Meta(pattern=MULTI_LINE_PATTERN)]

TextKind = Literal["single_line", "multi_line"]
_COMPILED = {
    "single_line": re.compile(SINGLE_LINE_PATTERN),
    "multi_line": re.compile(MULTI_LINE_PATTERN),
}
_RULES = {
    "single_line": "must not contain control characters (such as NUL, tab or line breaks)",
    "multi_line": "must not contain control characters other than tab and line breaks",
}


def check_text(value: str, field: str, kind: TextKind = "single_line") -> str:
    """The same rules for text that no annotation checks; raises a 422 naming ``field``."""
    if not _COMPILED[kind].search(value):
        raise ValidationError(f"Invalid request: {field}: {_RULES[kind]}.", param=field)
    return value
