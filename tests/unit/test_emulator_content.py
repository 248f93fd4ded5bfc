"""The emulator's pure parts: replies, embeddings and fault settings."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.emulator.content import (
    EMBEDDING_DIM,
    cosine,
    embed_text,
    expected_generate_reply,
    expected_reply,
    split_tokens,
)
from local.emulator.faults import Faults, parse_fault_header

# Fixed examples: a hash-based embedding is deterministic, so a derandomised run either
# always passes or always fails, never flakes.
PROPERTY = settings(derandomize=True, database=None, max_examples=150, deadline=None)

words = st.from_regex(r"[a-z]{3,10}", fullmatch=True)


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


# Replies


def test_reply_echoes_the_last_user_message_word_by_word():
    messages = [
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "You said: first question"},
        {"role": "user", "content": "  what is\n the  time? "},
    ]
    assert expected_reply(messages) == ["You", " said:", " what", " is", " the", " time?"]


def test_reply_reads_openai_content_parts():
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
                {"type": "text", "text": "this"},
            ],
        }
    ]
    # The image is not text, but the reply counts it so tests can see it arrived.
    assert "".join(expected_reply(messages)) == "You said: look at this (1 image)"


def test_reply_without_a_user_message():
    assert expected_reply([{"role": "system", "content": "hi"}]) == ["You", " said", " nothing."]
    assert expected_generate_reply("   ") == ["You", " said", " nothing."]


@given(st.text())
def test_tokens_rebuild_the_text_and_each_holds_one_word(text):
    tokens = split_tokens(text)
    assert "".join(tokens) == text.rstrip()
    assert [token.strip() for token in tokens] == text.split()


# Embeddings


@given(st.text(max_size=200))
def test_embeddings_are_unit_length_and_fixed_size(text):
    vector = embed_text(text)
    assert len(vector) == EMBEDDING_DIM
    assert norm(vector) == pytest.approx(1.0)


def test_embeddings_ignore_case_and_punctuation():
    assert embed_text("Hello, World!") == embed_text("hello world")


def test_embeddings_are_stable_across_processes():
    # Python's own hash() is salted per process; the embedding must not depend on it.
    code = "from local.emulator.content import embed_text; print(repr(embed_text('stable words')))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert outputs == {repr(embed_text("stable words"))}


def test_related_texts_are_closer_than_unrelated_ones():
    query = embed_text("how do I reset my password")
    related = embed_text("to reset a forgotten password open settings")
    unrelated = embed_text("the quarterly revenue grew in europe")
    assert cosine(query, related) > 0.3
    assert abs(cosine(query, unrelated)) < 0.2


@PROPERTY
@given(st.lists(words, min_size=3, max_size=30, unique=True), st.data())
def test_sharing_words_beats_sharing_none(vocabulary, data):
    # Split one vocabulary into disjoint groups: `shared` appears in both texts of the related
    # pair and makes up at least half of each; `stranger` shares nothing with `text`.
    n = len(vocabulary)
    n_shared = data.draw(st.integers(1, n // 3))
    n_own = data.draw(st.integers(0, n_shared))
    n_other = data.draw(st.integers(0, n_shared))
    shared = vocabulary[:n_shared]
    own = vocabulary[n_shared : n_shared + n_own]
    other = vocabulary[n_shared + n_own : n_shared + n_own + n_other]
    stranger = vocabulary[n_shared + n_own + n_other :] or ["zzzzzz"]

    text = embed_text(" ".join(shared + own))
    related = embed_text(" ".join(other + shared))
    unrelated = embed_text(" ".join(stranger))
    assert cosine(text, related) >= 0.3
    assert cosine(text, related) > cosine(text, unrelated) + 0.1


def test_dimensions_truncate_and_renormalise():
    full = embed_text("some words here")
    short = embed_text("some words here", 64)
    assert len(short) == 64
    assert norm(short) == pytest.approx(1.0)
    # Same direction as the full vector's first 64 components.
    assert cosine(short, full[:64]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="dimensions"):
        embed_text("x", EMBEDDING_DIM + 1)


# Fault settings


def test_fault_header_parses_and_coerces():
    changes = parse_fault_header("reset_after=3; token_delay=0.5, fail_status=")
    assert changes == {"reset_after": "3", "token_delay": "0.5", "fail_status": None}
    faults = Faults(fail_status=503).with_changes(changes)
    assert faults == Faults(reset_after=3, token_delay=0.5, fail_status=None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reset_afterr": 1}, "unknown fault"),
        ({"reset_after": -1}, ">= 0"),
        ({"reset_after": True}, "integer"),
        ({"reset_after": "two"}, "integer"),
        ({"fail_status": 200}, "400-599"),
        ({"token_delay": 61}, "between"),
        ({"require_api_key": ""}, "non-empty"),
    ],
)
def test_invalid_fault_settings_are_rejected(changes, message):
    with pytest.raises(ValueError, match=message):
        Faults().with_changes(changes)


def test_malformed_fault_header_is_rejected():
    with pytest.raises(ValueError, match="key=value"):
        parse_fault_header("reset_after")


def test_earliest_break_wins_and_ties_go_to_the_harshest():
    assert Faults().first_break() is None
    assert Faults(error_after=4, bad_json_after=2).first_break() == ("bad_json", 2)
    assert Faults(error_after=2, reset_after=2, stall_after=2).first_break() == ("reset", 2)
