"""The extraction sandbox's child process: ``python -m functions.rag.ingest.worker KIND ...``.

It lowers its own limits before it imports a parser or reads a byte: address space
(``RLIMIT_AS``) and CPU seconds (``RLIMIT_CPU``; the kernel sends SIGXCPU, then SIGKILL). A
parser that loops or allocates without end is stopped by the kernel, not by its own good manners.
The document arrives on stdin; one JSON object leaves on stdout: ``{"text": ...}`` or
``{"error": ...}``. Nothing here touches the network, the database or the object store.
"""

from __future__ import annotations

import io
import json
import resource
import sys


def _limit(cpu_seconds: int, memory_mb: int) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # The soft limit sends SIGXCPU (which kills by default); the hard one a second later, SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    # No core files from a killed parser.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class TooMuchTextError(Exception):
    pass


class _Collector:
    def __init__(self, max_chars: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.max_chars = max_chars

    def add(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.max_chars:
            raise TooMuchTextError
        self.parts.append(text)


def pdf_text(data: bytes, out: _Collector) -> None:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception:  # any failure to open it means the same to the user
            raise FileNotDecryptedError("encrypted") from None
    for page in reader.pages:
        out.add(page.extract_text() or "")
        out.add("\n\n")


def docx_text(data: bytes, out: _Collector) -> None:
    import docx

    document = docx.Document(io.BytesIO(data))
    for paragraph in document.paragraphs:
        out.add(paragraph.text)
        out.add("\n\n")
    for table in document.tables:
        for row in table.rows:
            out.add(" | ".join(cell.text for cell in row.cells))
            out.add("\n")
        out.add("\n")


def _reason(kind: str, error: BaseException) -> str:
    name = type(error).__name__
    if isinstance(error, MemoryError):
        return f"Reading the {kind.upper()} needed more memory than its budget allows."
    if isinstance(error, TooMuchTextError):
        return f"The {kind.upper()} holds more text than STRATUS_RAG_MAX_TEXT_CHARS allows."
    if isinstance(error, RecursionError):
        return f"The {kind.upper()} nests too deeply to read."
    if name == "FileNotDecryptedError":
        return "The PDF is encrypted with a password."
    return f"The {kind.upper()} could not be read ({name})."


def main(argv: list[str]) -> int:
    kind, max_chars, cpu_seconds, memory_mb = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    _limit(cpu_seconds, memory_mb)
    data = sys.stdin.buffer.read()
    out = _Collector(max_chars)
    try:
        if kind == "pdf":
            pdf_text(data, out)
        elif kind == "docx":
            docx_text(data, out)
        else:
            raise ValueError(kind)
        result = {"text": "".join(out.parts)}
    except BaseException as error:  # every failure becomes a reason for the user, not a trace
        out.parts.clear()
        result = {"error": _reason(kind, error)}
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
