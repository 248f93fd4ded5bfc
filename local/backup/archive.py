"""The backup archive: ``stratus-backup-<UTC time>.tar.gz`` holding

manifest.json    format, time, Stratus version, how many upload files, whether the signing key
                 is included, and the sha256 of every other member
postgres.dump    pg_dump --format=custom of the stratus database
uploads/...      the local object store (UPLOAD_DIR)
secret_key       the data directory's signing key, only when asked for (--include-secret-key)

Reading one checks everything before anything is used: the gzip stream to its end (its CRC and
length), every member's name and type, and every member's checksum against the manifest.
Format 1 archives (Stratus 0.4.0) have no checksums: only the gzip check applies to them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

FORMAT = 2
READABLE_FORMATS = frozenset({1, 2})
MANIFEST = "manifest.json"
DUMP = "postgres.dump"
UPLOADS = "uploads"
KEY_FILE = "secret_key"
_MEMBERS = frozenset({MANIFEST, DUMP, UPLOADS, KEY_FILE})
_CHUNK = 1 << 20
# What a damaged archive raises while it is read: truncated (EOFError), a flipped bit in the
# deflate stream (zlib.error) or its CRC (BadGzipFile), not gzip at all, or a broken tar.
_UNREADABLE = (EOFError, zlib.error, gzip.BadGzipFile, tarfile.TarError, UnicodeDecodeError)


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Contents:
    """A verified archive, unpacked into ``root``."""

    manifest: dict[str, Any]
    root: Path

    @property
    def dump(self) -> Path:
        return self.root / DUMP

    @property
    def uploads(self) -> Path:
        return self.root / UPLOADS

    @property
    def secret_key(self) -> Path | None:
        path = self.root / KEY_FILE
        return path if path.is_file() else None


def archive_name(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"stratus-backup-{moment}.tar.gz"


def upload_files(upload_dir: Path) -> Iterator[Path]:
    if upload_dir.is_dir():
        yield from sorted(p for p in upload_dir.rglob("*") if p.is_file())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(
    target: Path,
    dump: Path,
    upload_dir: Path,
    manifest: dict[str, Any],
    secret_key: Path | None = None,
) -> None:
    """Write atomically (a partial file, then a rename), readable by its owner only, then read
    it back as a restore would: an archive that would not restore is never left behind."""
    members = {DUMP: dump}
    for path in upload_files(upload_dir):
        members[f"{UPLOADS}/{path.relative_to(upload_dir).as_posix()}"] = path
    if secret_key is not None:
        members[KEY_FILE] = secret_key
    checksums = {name: sha256_file(path) for name, path in members.items()}
    manifest = {**manifest, "secret_key": secret_key is not None, "sha256": checksums}
    partial = target.with_name(target.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            for name, path in members.items():
                tar.add(path, arcname=name)
        # Read back: an upload that changed while it was archived shows here, not at restore.
        read_archive(partial)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def read_archive(archive: Path, unpack_into: Path | None = None) -> dict[str, Any]:
    """Check the archive whole (gzip, members, checksums); unpack it into ``unpack_into`` if
    given. Returns the manifest. Every problem is a BackupError naming the archive."""
    try:
        manifest, checksums = _read(archive, unpack_into)
    except _UNREADABLE as error:
        raise BackupError(
            f"{archive} cannot be read: it is truncated, damaged or not a Stratus backup"
            f" ({_describe(error)})"
        ) from None
    except json.JSONDecodeError as error:
        raise BackupError(f"{archive} has a damaged {MANIFEST} ({error.msg})") from None
    _check(archive, manifest, checksums)
    return manifest


def _read(archive: Path, unpack_into: Path | None) -> tuple[dict[str, Any], dict[str, str]]:
    manifest: dict[str, Any] | None = None
    checksums: dict[str, str] = {}
    with gzip.open(archive, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = _checked_name(archive, member)
            if name in checksums:
                raise BackupError(f"{archive} has {name} twice")
            if member.isdir():
                if unpack_into is not None:
                    (unpack_into / name).mkdir(parents=True, exist_ok=True)
                continue
            source = tar.extractfile(member)
            assert source is not None  # a regular file, checked above
            if name == MANIFEST:
                data = source.read()
                manifest = json.loads(data)
                checksums[name] = hashlib.sha256(data).hexdigest()
                continue
            target = None if unpack_into is None else unpack_into / name
            checksums[name] = _copy(source, target, member.mode)
        # The gzip trailer (CRC-32 and length) is checked only once the stream is read to its end.
        while stream.read(_CHUNK):
            pass
    if not isinstance(manifest, dict):
        raise BackupError(f"{archive} is not a Stratus backup (no {MANIFEST})")
    return manifest, checksums


def _checked_name(archive: Path, member: tarfile.TarInfo) -> str:
    """Only the expected members, as plain relative paths: nothing can land outside the folder."""
    path = PurePosixPath(member.name)
    parts = path.parts
    if (
        not parts
        or path.is_absolute()
        or ".." in parts
        or parts[0] not in _MEMBERS
        or not (member.isfile() or member.isdir())
    ):
        raise BackupError(f"{archive} has an unexpected member: {member.name}")
    return path.as_posix()


def _copy(source: IO[bytes], target: Path | None, mode: int) -> str:
    digest = hashlib.sha256()
    out = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only for the signing key and the dump; uploads keep their read bits.
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o644 or 0o600)
        out = os.fdopen(descriptor, "wb")
    try:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest()


def _check(archive: Path, manifest: dict[str, Any], checksums: dict[str, str]) -> None:
    version = manifest.get("format")
    if version not in READABLE_FORMATS:
        raise BackupError(
            f"{archive} has backup format {version}; this Stratus reads formats"
            f" {', '.join(map(str, sorted(READABLE_FORMATS)))}"
        )
    if DUMP not in checksums:
        raise BackupError(f"{archive} has no {DUMP}: it is not a complete Stratus backup")
    if version == 1:
        return  # no checksums in the manifest; the gzip check has run
    expected = manifest.get("sha256")
    if not isinstance(expected, dict):
        raise BackupError(f"{archive} has no checksums in its {MANIFEST}")
    found = {name: digest for name, digest in checksums.items() if name != MANIFEST}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(name for name in set(expected) & set(found) if expected[name] != found[name])
    if missing:
        raise BackupError(f"{archive} lacks {len(missing)} listed file(s), first {missing[0]}")
    if extra:
        raise BackupError(f"{archive} has a file its {MANIFEST} does not list: {extra[0]}")
    if wrong:
        raise BackupError(
            f"{archive} is damaged: the sha256 of {wrong[0]}"
            + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")
            + f" differs from its {MANIFEST}"
        )


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no detail"
    return f"{type(error).__name__}: {text}"
