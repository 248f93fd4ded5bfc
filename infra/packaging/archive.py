"""Reproducible zips: the same files give the same bytes, on any machine with the same zlib.

Entries are sorted, every timestamp is 1980-01-01 (the zip format's epoch), permissions are
normalised to 0644, or 0755 for files with an execute bit (Lambda runs chat's run.sh), and
bytecode caches are left out: Lambda compiles what it imports.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = frozenset({"__pycache__"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


@dataclass(frozen=True)
class Source:
    """Files under `root`, stored under `prefix` in the zip."""

    root: Path
    prefix: str
    only: tuple[str, ...] = ()  # relative paths to take from root; empty = everything


def iter_files(source: Source) -> Iterator[tuple[str, Path]]:
    paths = [source.root / name for name in source.only] if source.only else [source.root]
    for path in paths:
        if path.is_file():
            yield _arcname(source, path), path
            continue
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS]
            for filename in filenames:
                file = Path(dirpath) / filename
                if file.suffix not in _SKIPPED_SUFFIXES:
                    yield _arcname(source, file), file


def _arcname(source: Source, path: Path) -> str:
    relative = path.relative_to(source.root).as_posix()
    return f"{source.prefix}/{relative}" if source.prefix else relative


def write_zip(target: Path, sources: Iterable[Source]) -> int:
    """Write the zip; return the total size of its files, unzipped."""
    entries = sorted(entry for source in sources for entry in iter_files(source))
    names = [name for name, _ in entries]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate paths in {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, path in entries:
            data = path.read_bytes()
            unzipped += len(data)
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            executable = path.stat().st_mode & 0o111
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=6)
    return unzipped
