"""The shared text rules (stratus.web.text) and the plain-words validation messages."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import pytest

from stratus.errors import ValidationError
from stratus.web import text
from stratus.web.validation_messages import plain_problem

CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]]
BIDI_CONTROLS = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
ORDINARY = ["", "plain", "Zoë", "עברית", "مرحبا", "名前", "🚀", "a b", "\u200f", "x" * 500]


def _accepts(kind: Any, value: str) -> bool:
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_single_line_refuses_every_control_character(char):
    for value in (char, f"a{char}", f"{char}a", f"a{char}b"):
        assert not _accepts(text.SingleLine, value)
        assert not _accepts(text.DisplayName, value)


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_multi_line_allows_only_tab_and_line_breaks(char):
    allowed = char in "\t\n\r"
    assert _accepts(text.MultiLine, f"line one{char}line two") is allowed
    assert _accepts(text.MultiLine, f"ends with{char}") is allowed


@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_display_names_refuse_bidi_overrides_and_isolates(char):
    assert not _accepts(text.DisplayName, f"invoice{char}fdp.exe")
    # Elsewhere they are only text: a password may hold any printable character.
    assert _accepts(text.SingleLine, f"a{char}b")


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_text_passes_every_rule(value):
    for kind in (text.SingleLine, text.MultiLine, text.DisplayName):
        assert _accepts(kind, value)


def test_the_end_of_the_string_is_really_the_end():
    # Python's "$" would let one trailing newline through.
    assert not _accepts(text.SingleLine, "name\n")
    assert not _accepts(text.EmailAddress, "a@example.test\n")
    assert _accepts(text.EmailAddress, "a@example.test")


@pytest.mark.parametrize("value", ["a@b", "first.last+tag@example.co.uk", "ünïcode@exämple.test"])
def test_email_accepts_addresses(value):
    assert _accepts(text.EmailAddress, value)


@pytest.mark.parametrize(
    "value", ["", "no-at", "a@", "@b", "a@@b", "a b@c", "a@b c", "a\u0000@b", "a@b\u202e"]
)
def test_email_refuses_non_addresses(value):
    assert not _accepts(text.EmailAddress, value)


def test_patterns_are_valid_for_openapi_clients_too():
    # The spec carries these patterns; JSON Schema uses ECMA 262, which has no \Z or (?i).
    for pattern in (text.SINGLE_LINE_PATTERN, text.MULTI_LINE_PATTERN, text.EMAIL_PATTERN):
        assert "\\Z" not in pattern
        assert not pattern.endswith("$")
        re.compile(pattern)


def test_check_text_names_the_field():
    assert text.check_text("report.pdf", "filename") == "report.pdf"
    with pytest.raises(ValidationError) as caught:
        text.check_text("report\u0000.pdf", "filename")
    assert caught.value.param == "filename"
    assert caught.value.status_code == 422
    assert "filename: must not contain control characters" in caught.value.message
    assert text.check_text("two\nlines", "content", "multi_line") == "two\nlines"
    with pytest.raises(ValidationError):
        text.check_text("invoice\u202efdp.exe", "name", "display_name")


def _msgspec_message(kind: Any, value: Any) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(value, kind)
    return str(caught.value).split(" - at ", 1)[0]


class Thing(msgspec.Struct, forbid_unknown_fields=True):
    name: str


Short = Annotated[str, msgspec.Meta(min_length=2, max_length=3)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Page = Annotated[int, msgspec.Meta(ge=1, le=100)]
Aware = Annotated[datetime, msgspec.Meta(tz=True)]
Other = Annotated[str, msgspec.Meta(pattern="^[a-z]+$")]


@pytest.mark.parametrize(
    ("kind", "value", "rule"),
    [
        (str, 1, "must be a string"),
        (int, "x", "must be an integer"),
        (float, "x", "must be a number"),
        (bool, "x", "must be true or false"),
        (str | None, 1, "must be a string or null"),
        (list[str], "x", "must be a list"),
        (Thing, [], "must be a JSON object"),
        (Short, "a", "must have at least 2 characters"),
        (Short, "abcd", "must have at most 3 characters"),
        (NonEmpty, "", "must not be empty"),
        (Page, 0, "must be at least 1"),
        (Page, 101, "must be at most 100"),
        (Aware, "2030-01-01T00:00:00", "must include a time zone"),
        (datetime, "soon", "must be an RFC 3339 date-time"),
        (Literal["a", "b"], "c", "is not one of the accepted values"),
        (text.SingleLine, "a\u0000", "must not contain control characters"),
        (text.DisplayName, "a\u202e", "must not contain control characters"),
        (text.EmailAddress, "nope", "must be an email address like name@example.com"),
        (Other, "A", "is not in an accepted format"),
    ],
)
def test_msgspec_messages_become_plain_words(kind, value, rule):
    field, said = plain_problem("field", _msgspec_message(kind, value))
    assert field == "field"
    assert said.startswith(rule), said
    for internal in ("`", "$.", "regex", "Expected", "[a-z]"):
        assert internal not in said


def test_missing_and_unknown_fields_are_named():
    assert plain_problem("data", "Object missing required field `email`") == (
        "email",
        "is required",
    )
    assert plain_problem("data", "Object contains unknown field `role`") == (
        "role",
        "is not an accepted field",
    )
    # Nested objects keep their path.
    assert plain_problem("messages[0]", "Object missing required field `content`") == (
        "messages[0].content",
        "is required",
    )


def test_the_body_itself_is_called_the_request_body():
    assert plain_problem("data", "Expected `object`, got `array`") == (
        None,
        "the request body must be a JSON object",
    )


def test_unknown_library_phrasing_never_leaks():
    assert plain_problem("x", "Input data was truncated") == ("x", "is not valid")
    assert plain_problem("x", "Some `new` msgspec $.phrase") == ("x", "is not valid")
