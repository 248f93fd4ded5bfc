"""Chunking: sizes, overlap, and cuts at paragraph and sentence boundaries first."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.rag.ingest.splitter import split_text

WORDS = re.compile(r"\S+")


def test_short_text_is_one_chunk():
    chunks = split_text("One short paragraph.", 1000, 100)
    assert [(c.position, c.text) for c in chunks] == [(0, "One short paragraph.")]


def test_paragraphs_are_kept_whole_when_they_fit():
    paragraphs = [f"Paragraph {i}. " + "alpha beta gamma. " * 20 for i in range(10)]
    chunks = split_text("\n\n".join(paragraphs), 1000, 100)
    for chunk in chunks:
        # Every chunk starts at a paragraph's start or inside the overlap carried over.
        assert len(chunk.text) <= 1000
    starts = sum(chunk.text.count("Paragraph ") for chunk in chunks)
    assert starts >= len(paragraphs)
    # No paragraph is cut in the middle of a sentence.
    for chunk in chunks:
        assert chunk.text.rstrip().endswith(".")


def test_long_paragraphs_are_cut_at_sentence_ends():
    sentences = [f"Sentence number {i} says something long enough to matter." for i in range(60)]
    chunks = split_text(" ".join(sentences), 300, 60)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text.endswith("."), chunk.text[-40:]
        assert chunk.text[0].isupper(), chunk.text[:40]


def test_consecutive_chunks_overlap():
    sentences = [f"Fact {i} is recorded here." for i in range(200)]
    chunks = split_text(" ".join(sentences), 400, 80)
    for before, after in itertools.pairwise(chunks):
        first_sentence = after.text.split(". ")[0]
        assert first_sentence in before.text


def test_positions_count_up_from_zero():
    chunks = split_text("word " * 5000, 1000, 100)
    assert [c.position for c in chunks] == list(range(len(chunks)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["alpha", "be", "gamma.", "d!", "e?", " ", " ", "\n", "\n\n", ",", "x" * 130]
        ),
        max_size=800,
    ).map("".join),
    st.integers(min_value=100, max_value=1200),
    st.integers(min_value=0, max_value=49),
)
def test_every_word_survives_and_no_chunk_is_too_long(text, size, overlap):
    chunks = split_text(text, size, overlap)
    assert all(0 < len(c.text) <= size for c in chunks)
    joined = " ".join(c.text for c in chunks)
    # Words may only be cut where a single word is longer than a chunk.
    for word in WORDS.findall(text):
        if len(word) < size:
            assert word in joined
