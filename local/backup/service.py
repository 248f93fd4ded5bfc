"""Create and restore backups: the database first, then the files it points to."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.backup import archive, database
from local.backup.archive import BackupError


def upload_dir_for(data_dir: Path) -> Path:
    """UPLOAD_DIR, or the data directory's uploads/, as the stack resolves it."""
    from stratus.settings import StorageSettings

    return StorageSettings.from_env({**os.environ, "STRATUS_DATA_DIR": str(data_dir)}).upload_dir


def create_backup(data_dir: Path, output_dir: Path, *, include_secret_key: bool = False) -> Path:
    data_dir = data_dir.resolve()
    upload_dir = upload_dir_for(data_dir)
    secret_key = data_dir / archive.KEY_FILE if include_secret_key else None
    if secret_key is not None and not secret_key.is_file():
        raise BackupError(
            f"no signing key in {secret_key}: this stack signs with WEBUI_SECRET_KEY from its"
            " environment, which is not in the data directory; keep that value yourself"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir.resolve() / archive.archive_name()
    with tempfile.TemporaryDirectory(prefix="stratus-backup-") as scratch:
        dump = Path(scratch) / archive.DUMP
        with database.database_url(data_dir, must_exist=True) as url:
            database.dump(url, dump)
        # Files after the dump: every upload a dumped row refers to was written before its row
        # committed, so it is on disk by now. Later uploads may come along, unreferenced.
        manifest = {
            "format": archive.FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "stratus_version": _version(),
            "uploads": sum(1 for _ in archive.upload_files(upload_dir)),
        }
        archive.write_archive(target, dump, upload_dir, manifest, secret_key)
    return target


def restore_backup(source: Path, data_dir: Path) -> dict[str, Any]:
    """Restore into a fresh data directory (or empty DATABASE_URL and UPLOAD_DIR).

    Nothing is written until the archive is checked whole, and nothing to the target until the
    database is restored: that happens in a folder beside the target, which is then moved into
    place. A failure at any point leaves the target as it was, so the next try starts clean.
    """
    data_dir = data_dir.resolve()
    upload_dir = upload_dir_for(data_dir)
    _require_fresh(data_dir, upload_dir)
    # A first pass writes nothing at all: a damaged archive is refused before any folder is
    # made. The second pass, which unpacks, checks everything again as it goes.
    archive.read_archive(source)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restoring-", dir=data_dir.parent))
    try:
        unpacked = staging / "archive"
        manifest = archive.read_archive(source, unpacked)
        contents = archive.Contents(manifest, unpacked)
        key = contents.secret_key
        _require_no_other_key(data_dir, key)
        built = staging / "data"
        built.mkdir()
        with database.database_url(built, must_exist=False) as url:
            database.require_empty(url)
            database.restore(url, contents.dump)
        if key is not None:
            key.rename(built / archive.KEY_FILE)
        staged_uploads = contents.uploads if contents.uploads.is_dir() else None
        if staged_uploads is not None and upload_dir.is_relative_to(data_dir):
            target = built / upload_dir.relative_to(data_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            staged_uploads.rename(target)
            staged_uploads = None
        _move_into_place(built, data_dir)
        if staged_uploads is not None:  # UPLOAD_DIR outside the data directory
            _move_into_place(staged_uploads, upload_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _require_fresh(data_dir: Path, upload_dir: Path) -> None:
    if any(archive.upload_files(upload_dir)):
        raise BackupError(f"restore needs a fresh data directory, and {upload_dir} has files")
    if (data_dir / "postgres" / "PG_VERSION").exists() and not os.environ.get("DATABASE_URL"):
        raise BackupError(f"restore needs a fresh data directory, and {data_dir} has a database")


def _require_no_other_key(data_dir: Path, key: Path | None) -> None:
    existing = data_dir / archive.KEY_FILE
    if key is not None and existing.exists() and existing.read_bytes() != key.read_bytes():
        raise BackupError(
            f"the backup has a signing key and {existing} holds another: move that file away"
            " to restore the backup's key (or restore into a fresh data directory)"
        )


def _move_into_place(built: Path, target: Path) -> None:
    """``built`` becomes ``target``: one rename when the target is new, else one per entry,
    after checking that none of them would replace anything."""
    if not target.exists():
        _rename(built, target)
        return
    moves = []
    for entry in sorted(built.iterdir()):
        destination = target / entry.name
        if destination.is_dir() and not any(destination.iterdir()):
            destination.rmdir()  # an empty uploads/ folder, say
        elif destination.is_file() and destination.read_bytes() == entry.read_bytes():
            continue  # the same signing key
        elif destination.exists():
            raise BackupError(
                f"{destination} already exists, so the restore stopped before changing"
                " anything: remove it, or restore into a fresh --data-dir"
            )
        moves.append((entry, destination))
    for entry, destination in moves:
        _rename(entry, destination)


def _rename(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        source.rename(target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        # Another file system (UPLOAD_DIR elsewhere): copy beside the target, then rename.
        partial = target.with_name(f".{target.name}.restoring")
        if source.is_dir():
            shutil.copytree(source, partial)
        else:
            shutil.copy2(source, partial)
        partial.rename(target)


def _version() -> str:
    import stratus

    return stratus.__version__
