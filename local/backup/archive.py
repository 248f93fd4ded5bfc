"""The backup archive: ``stratus-backup-<UTC time>.tar.gz`` holding

manifest.json    format, time, Stratus version, how many upload files
postgres.dump    pg_dump --format=custom of the stratus database
uploads/...      the local object store (UPLOAD_DIR)
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "postgres.dump"
UPLOADS = "uploads"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def archive_name(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"stratus-backup-{moment}.tar.gz"


def upload_files(upload_dir: Path) -> Iterator[Path]:
    if upload_dir.is_dir():
        yield from sorted(p for p in upload_dir.rglob("*") if p.is_file())


def write_archive(target: Path, dump: Path, upload_dir: Path, manifest: dict[str, Any]) -> None:
    """Write atomically (a partial file, then a rename), readable by its owner only."""
    partial = target.with_name(target.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            tar.add(dump, arcname=DUMP)
            for path in upload_files(upload_dir):
                tar.add(path, arcname=f"{UPLOADS}/{path.relative_to(upload_dir).as_posix()}")
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def read_manifest(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile(MANIFEST)
        if member is None:
            raise BackupError(f"{archive} is not a Stratus backup (no {MANIFEST})")
        manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} has backup format {manifest.get('format')}, not {FORMAT}")
    return manifest


def extract(archive: Path, scratch: Path) -> tuple[Path, Path]:
    """Unpack into `scratch`; return the dump and the uploads folder.

    Only the expected members are accepted, and tarfile's "data" filter refuses absolute paths,
    links out of the folder and device files, so a crafted archive cannot write elsewhere.
    """
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            top = member.name.split("/", 1)[0]
            if top not in {MANIFEST, DUMP, UPLOADS} or not (member.isfile() or member.isdir()):
                raise BackupError(f"{archive} has an unexpected member: {member.name}")
        tar.extractall(scratch, filter="data")
    return scratch / DUMP, scratch / UPLOADS
