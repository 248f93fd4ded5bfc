"""Text from the text kinds (txt, md, html, csv, json), with the standard library only.

These run in-process: each is a single linear pass over at most ``RAG_FILE_MAX_SIZE`` bytes.
PDF and DOCX, whose parsers can be driven into loops or huge allocations, run in the sandbox.
"""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

from functions.rag.ingest.errors import ExtractionError
from functions.rag.ingest.sniff import decode_text

# Elements whose end is a paragraph break; everything else flows inline.
_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table"),
        *("td", "th", "tr", "ul"),
    }
)
_SKIPPED = frozenset({"script", "style", "template", "noscript", "head"})


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(source: str) -> str:
    parser = _HtmlText()
    parser.feed(source)
    parser.close()
    return "".join(parser.parts)


def csv_text(source: str) -> str:
    """One line per row, each value labelled with its column: rows stay whole in a chunk."""
    try:
        rows = list(csv.reader(io.StringIO(source)))
    except csv.Error as error:
        raise ExtractionError(f"The CSV file could not be read: {error}.") from None
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return ", ".join(header)
    lines = []
    for row in body:
        cells = [
            f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {value}"
            for i, value in enumerate(row)
            if value.strip()
        ]
        lines.append("; ".join(cells))
    return "\n".join(lines)


def json_text(source: str) -> str:
    try:
        value = json.loads(source)
    except RecursionError:
        raise ExtractionError("The JSON file nests too deeply to read.") from None
    except ValueError:
        raise ExtractionError("The file is not valid JSON.") from None
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except RecursionError:
        raise ExtractionError("The JSON file nests too deeply to read.") from None


def extract_text(kind: str, data: bytes) -> str:
    try:
        source = decode_text(data)
    except UnicodeDecodeError:
        raise ExtractionError("The file is not valid UTF-8 text.") from None
    if kind == "html":
        return html_text(source)
    if kind == "csv":
        return csv_text(source)
    if kind == "json":
        return json_text(source)
    return source
