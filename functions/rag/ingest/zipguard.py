"""A DOCX is a ZIP: before anything decompresses it, its declared sizes must be sane.

Reads only the central directory (no decompression) and refuses the archive when it has too many
entries, when its entries would expand past ``STRATUS_RAG_ZIP_MAX_UNCOMPRESSED_MB`` in total, or
when a large entry compresses better than ``STRATUS_RAG_ZIP_MAX_RATIO`` to one (Word's XML
compresses about 10:1; a bomb, 1000:1). The declared sizes bound the real work too: Python's
``zipfile`` stops an entry at its declared size, and extraction runs under a memory limit anyway.
"""

from __future__ import annotations

import io
import zipfile

from stratus.errors import PayloadTooLargeError, UnsupportedMediaTypeError

MAX_ENTRIES = 2000
# Small entries may compress arbitrarily well (an empty part is all header); only big ones count.
RATIO_CHECK_FROM = 1024 * 1024


def check_zip(data: bytes, *, max_uncompressed: int, max_ratio: float) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UnsupportedMediaTypeError(
            "The Word document is not a readable ZIP archive.", param="file"
        ) from None
    if len(entries) > MAX_ENTRIES:
        raise PayloadTooLargeError(
            f"The Word document holds {len(entries)} parts; at most {MAX_ENTRIES} are accepted.",
            param="file",
        )
    total = sum(entry.file_size for entry in entries)
    if total > max_uncompressed:
        raise PayloadTooLargeError(
            f"The Word document would expand to {total // (1024 * 1024)} MB; at most "
            f"{max_uncompressed // (1024 * 1024)} MB is accepted (a ZIP bomb?).",
            param="file",
        )
    for entry in entries:
        if entry.file_size < RATIO_CHECK_FROM:
            continue
        ratio = entry.file_size / max(entry.compress_size, 1)
        if ratio > max_ratio:
            raise PayloadTooLargeError(
                f"A part of the Word document expands {ratio:.0f} times; at most "
                f"{max_ratio:.0f} times is accepted (a ZIP bomb?).",
                param="file",
            )
