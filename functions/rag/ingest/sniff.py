"""What a file is, from its bytes: the type allow-list checks content, not the name.

PDF and DOCX are recognised by their magic bytes (a DOCX is a ZIP holding
``word/document.xml``). Anything else must be text: UTF-8 (a BOM is allowed), no NUL and almost
no other control characters. Among text files the name picks the flavour (``.md``, ``.html``,
``.csv``, ``.json``, otherwise plain text), and a ``.json`` file must parse. A name that claims
PDF or DOCX for content that is not, or content of any other binary type (images, archives,
executables), is refused with the reason.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from stratus.errors import UnsupportedMediaTypeError

_SAMPLE = 64 * 1024
# Text may carry a few odd control characters (form feeds in old files); binary data has many.
_MAX_CONTROL_RATIO = 0.01

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "csv": "text/csv",
    "json": "application/json",
    "md": "text/markdown",
    "txt": "text/plain",
}
_TEXT_SUFFIXES = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
    ".json": "json",
}
_BINARY_CLAIMS = {".pdf": "pdf", ".docx": "docx"}
ALLOWED = "txt, md, html, csv, json, pdf or docx"


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]


def _refuse(message: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(f"{message} Allowed types: {ALLOWED}.", param="file")


def sniff(data: bytes, filename: str) -> Sniffed:
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    claimed = _BINARY_CLAIMS.get(suffix)
    if not data:
        raise _refuse("The file is empty.")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n\f").startswith(b"%PDF-"):
        found = "pdf"
    elif data.startswith(b"PK\x03\x04"):
        if not _is_docx(data):
            raise _refuse("The file is a ZIP archive but not a Word document (.docx).")
        found = "docx"
    else:
        if claimed:
            raise _refuse(
                f"The file is named .{claimed} but its content is not a {claimed.upper()}."
            )
        return Sniffed(_text_kind(data, suffix))
    if claimed and claimed != found:
        raise _refuse(f"The file is named .{claimed} but its content is a {found.upper()}.")
    return Sniffed(found)


def _is_docx(data: bytes) -> bool:
    """Reads only the ZIP's central directory: nothing is decompressed here."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names


def _text_kind(data: bytes, suffix: str) -> str:
    sample = data[:_SAMPLE]
    if b"\x00" in sample:
        raise _refuse("The file is binary, not text.")
    try:
        text = decode_text(sample, partial=len(data) > _SAMPLE)
    except UnicodeDecodeError:
        raise _refuse("The file is neither a PDF, a DOCX nor UTF-8 text.") from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if text and controls / len(text) > _MAX_CONTROL_RATIO:
        raise _refuse("The file is binary, not text.")
    kind = _TEXT_SUFFIXES.get(suffix, "txt")
    if kind == "json":
        import json

        try:
            json.loads(decode_text(data))
        except (ValueError, RecursionError):
            raise _refuse("The file is named .json but is not valid JSON.") from None
    return kind


def decode_text(data: bytes, *, partial: bool = False) -> str:
    """UTF-8, with or without a BOM. ``partial``: the bytes may end inside a character."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if partial:
        # Up to three trailing bytes may be the start of a character cut by the sample.
        for cut in range(4):
            try:
                return data[: len(data) - cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
    return data.decode("utf-8")
