"""Nesting depth is measured on the bytes, and brackets inside strings do not count (row 35)."""

from __future__ import annotations

import json

import pytest

from stratus.web.json_depth import MAX_JSON_DEPTH, nesting_depth, too_deep


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"1", 0),
        (b'"text"', 0),
        (b"[]", 1),
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[{{{{"]', 1),
        # An escaped quote does not end the string; an escaped backslash does not escape it.
        (rb'["\"[[[[", "]"]', 1),
        (rb'["\\", [[]]]', 3),
        (rb'["\\\"[[", [{}]]', 3),
        (b'{"a": "}}}}]]]]", "b": [[[]]]}', 4),
    ],
)
def test_depth(body, depth):
    assert nesting_depth(body) == depth
    if depth:
        json.loads(body)  # every case is valid JSON, so the number is the decoder's too


def test_too_deep_is_past_the_limit_only():
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert not too_deep(at_limit)
    assert too_deep(b"[" + at_limit + b"]")
    assert too_deep(b"[" * 5000 + b"]" * 5000)


def test_many_brackets_in_text_are_not_depth():
    content = "code: " + "[{(" * 10_000
    body = json.dumps({"messages": [{"role": "user", "content": content}]}).encode()
    assert not too_deep(body)
