"""msgspec's and Litestar's validation messages, said in plain words.

Clients see the field and the rule ("email: must be a string"), never a regex, a type name in
backticks or a JSON path. A message this module does not know becomes "is not valid", so a new
library phrasing can never leak through.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stratus.web.text import rule_for_quoted

# The body itself: Litestar names it "data".
BODY_KEY = "data"

_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "object": "a JSON object",
    "array": "a list",
    "null": "null",
    "datetime": "a date-time",
    "date": "a date",
    "time": "a time",
    "uuid": "a UUID",
    "bytes": "base64-encoded bytes",
}
_BOUNDS = {">=": "at least", "<=": "at most", ">": "greater than", "<": "less than"}


def _types(spec: str) -> str:
    names = [_TYPE_WORDS.get(name.strip(), "a value of another type") for name in spec.split("|")]
    return " or ".join(dict.fromkeys(names))


def _length(match: re.Match[str]) -> str:
    kind, bound, number = match.group(1), match.group(2), int(match.group(3))
    unit = {"str": "character", "array": "item", "object": "field"}.get(kind, "item")
    if bound == ">=" and number == 1:
        return "must not be empty"
    plural = "" if number == 1 else "s"
    return f"must have {_BOUNDS[bound]} {number} {unit}{plural}"


def _pattern(match: re.Match[str]) -> str:
    # msgspec quotes the pattern with repr().
    return rule_for_quoted(match.group(1)) or "is not in an accepted format"


def _bound(match: re.Match[str]) -> str:
    return f"must be {_BOUNDS[match.group(1)]} {match.group(2)}"


def _fixed(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: text


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
_RULES: list[_Rule] = [
    (re.compile(r"^Expected `(\w+)` of length (>=|<=) (\d+)"), _length),
    (re.compile(r"^Expected `str` matching regex (.*)$", re.S), _pattern),
    (re.compile(r"^Expected `(?:int|float)` (>=|<=|>|<) (-?[\d.e+]+)"), _bound),
    (re.compile(r"^Expected `datetime` with a timezone"), _fixed("must include a time zone")),
    (re.compile(r"^Expected `datetime` with no timezone"), _fixed("must not have a time zone")),
    (re.compile(r"^Expected `([\w |]+)`, got `\w+`"), lambda m: f"must be {_types(m.group(1))}"),
    (re.compile(r"^Invalid enum value"), _fixed("is not one of the accepted values")),
    (
        re.compile(r"^Invalid RFC3339 encoded datetime"),
        _fixed("must be an RFC 3339 date-time such as 2030-01-31T12:00:00Z"),
    ),
    (re.compile(r"^Invalid \w+ encoded (\w+)"), lambda m: f"must be a valid {m.group(1)}"),
    (re.compile(r"^Invalid UUID"), _fixed("must be a UUID")),
    (re.compile(r"^Missing required \w+ parameter"), _fixed("is required")),
]
_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`")
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `([^`]+)`")


def plain_problem(key: str | None, message: str) -> tuple[str | None, str]:
    """``(field, rule)`` for one validation problem; the field is None when none is known."""
    if missing := _MISSING_FIELD.match(message):
        return _join(key, missing.group(1)), "is required"
    if unknown := _UNKNOWN_FIELD.match(message):
        return _join(key, unknown.group(1)), "is not an accepted field"
    for pattern, say in _RULES:
        if match := pattern.match(message):
            rule = say(match)
            break
    else:
        rule = "is not valid"
    if key == BODY_KEY:
        return None, f"the request body {rule}"
    return key, rule


def _join(key: str | None, name: str) -> str:
    # Litestar puts a problem found in the body itself under "data"; nested objects keep their
    # path ("messages[0]") so the field is named in full.
    return name if key in (None, BODY_KEY) else f"{key}.{name}"
