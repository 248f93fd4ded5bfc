"""Upload names are shown and offered back only in a safe form: NFKC, last component, no dots-only
names (security matrix row 17)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.rag.names import MAX_NAME, safe_name


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("report.pdf", "report.pdf"),
        ("notes \u2013 été.txt", "notes \u2013 été.txt"),
        ("ノート.md", "ノート.md"),  # letters that look like slashes stay letters
        ("..", "file"),
        (".", "file"),
        ("...", "file"),
        (". .", "file"),
        ("", "file"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("dir/", "file"),
        ("\u2025\u2215etc\u2215passwd", "passwd"),  # two-dot leader, division slashes
        ("\u2025", "file"),
        ("a\u2044b", "b"),  # fraction slash
        ("a\u29f8b\u2216c", "c"),  # big solidus, set minus
        ("\uff0e\uff0e\uff0fsecret", "secret"),  # full-width dots and solidus
        ("\uff21\uff22\uff23.txt", "ABC.txt"),  # full-width letters
        ("x" * 300 + ".txt", "x" * 251 + ".txt"),
    ],
)
def test_safe_name(raw, shown):
    assert safe_name(raw) == shown


@given(st.text(max_size=400))
def test_any_name_comes_out_safe_and_stable(raw):
    name = safe_name(raw)
    assert 0 < len(name) <= MAX_NAME
    assert "/" not in name
    assert "\\" not in name
    assert name.strip(". ")
    assert unicodedata.normalize("NFKC", name) == name
    assert safe_name(name) == name
