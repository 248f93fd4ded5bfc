"""Refuse control characters in single-line text (titles), with a 422 that names the field.

A stand-in for the shared rules being built in ``stratus.web.text`` (``check_text``, same
signature and wording): when that lands, import it from there and delete this module.
Postgres refuses NUL in text, terminals obey escape sequences, and a title is one line.
"""

from __future__ import annotations

import re

from stratus.errors import ValidationError

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RULE = "must not contain control characters (such as NUL, tab or line breaks)"


def check_text(value: str, field: str) -> str:
    if _CONTROLS.search(value):
        raise ValidationError(f"Invalid request: {field}: {_RULE}.", param=field)
    return value
