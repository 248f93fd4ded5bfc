"""The type allow-list reads content, not names; ZIP bombs are refused from the directory alone."""

from __future__ import annotations

import gzip
import json

import pytest

from functions.rag.ingest.sniff import sniff
from functions.rag.ingest.zipguard import check_zip
from stratus.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from tests.support.documents import make_docx, make_docx_bomb, make_pdf, make_zip

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
ELF = b"\x7fELF\x02\x01\x01" + bytes(64)
MB = 1024 * 1024


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("notes.txt", b"plain words\n", "txt"),
        ("README", "caf\u00e9 \u2014 unicode\n".encode(), "txt"),
        ("bom.txt", b"\xef\xbb\xbfwith a byte order mark", "txt"),
        ("guide.md", b"# Title\n\nText", "md"),
        ("page.html", b"<html><body><p>Hi</p></body></html>", "html"),
        ("table.csv", b"a,b\n1,2\n", "csv"),
        ("data.json", json.dumps({"k": [1, 2]}).encode(), "json"),
        ("doc.pdf", make_pdf([["Hello"]]), "pdf"),
        ("letter.docx", make_docx(["Dear reader"]), "docx"),
        # The content decides: a PDF named .txt is a PDF.
        ("renamed.txt", make_pdf([["Hello"]]), "pdf"),
        ("script.py", b"print('hello')\n", "txt"),
    ],
)
def test_allowed_content_is_recognised(name, data, kind):
    assert sniff(data, name).kind == kind


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("image.png", PNG, "binary"),
        ("photo.txt", PNG, "binary"),
        ("program", ELF, "binary"),
        ("fake.pdf", b"just some text pretending", "not a PDF"),
        ("fake.docx", b"just some text pretending", "not a DOCX"),
        ("pdf.docx", make_pdf([["x"]]), "content is a PDF"),
        ("archive.zip", make_zip({"a.txt": b"a"}), "not a Word document"),
        ("sheet.docx", make_zip({"xl/workbook.xml": b"<x/>"}), "not a Word document"),
        ("data.json", b"{not json", "not valid JSON"),
        ("latin1.txt", "caf\u00e9".encode("latin-1") * 10, "UTF-8"),
        ("zipped.txt", gzip.compress(b"hello" * 100), "binary"),
        ("empty.txt", b"", "empty"),
    ],
)
def test_other_content_is_refused_with_the_reason(name, data, words):
    with pytest.raises(UnsupportedMediaTypeError) as refused:
        sniff(data, name)
    assert words in refused.value.message
    assert "Allowed types" in refused.value.message
    assert refused.value.status_code == 415


def test_a_docx_bomb_is_refused_from_its_directory_alone():
    bomb = make_docx_bomb(300)
    # Small on disk, enormous when expanded: the check reads only the declared sizes.
    assert len(bomb) < MB
    assert sniff(bomb, "bomb.docx").kind == "docx"
    with pytest.raises(PayloadTooLargeError) as refused:
        check_zip(bomb, max_uncompressed=100 * MB, max_ratio=100)
    assert "expand to 300 MB" in refused.value.message


def test_a_highly_compressed_part_is_refused_under_the_total():
    bomb = make_docx_bomb(20)
    with pytest.raises(PayloadTooLargeError) as refused:
        check_zip(bomb, max_uncompressed=100 * MB, max_ratio=100)
    assert "expands" in refused.value.message


def test_an_ordinary_docx_passes():
    check_zip(make_docx(["A paragraph."] * 500), max_uncompressed=100 * MB, max_ratio=100)
