"""Create and restore backups: the database first, then the files it points to."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from local.backup import archive, database
from local.backup.archive import BackupError


def upload_dir_for(data_dir: Path) -> Path:
    """UPLOAD_DIR, or the data directory's uploads/, as the stack resolves it."""
    from stratus.settings import StorageSettings

    return StorageSettings.from_env({**os.environ, "STRATUS_DATA_DIR": str(data_dir)}).upload_dir


def create_backup(data_dir: Path, output_dir: Path) -> Path:
    data_dir = data_dir.resolve()
    upload_dir = upload_dir_for(data_dir)
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
        archive.write_archive(target, dump, upload_dir, manifest)
    return target


def restore_backup(source: Path, data_dir: Path) -> dict[str, object]:
    """Restore into a fresh data directory (or empty DATABASE_URL and UPLOAD_DIR)."""
    manifest = archive.read_manifest(source)
    data_dir = data_dir.resolve()
    upload_dir = upload_dir_for(data_dir)
    if any(archive.upload_files(upload_dir)):
        raise BackupError(f"restore needs a fresh data directory, and {upload_dir} has files")
    if (data_dir / "postgres" / "PG_VERSION").exists() and not os.environ.get("DATABASE_URL"):
        raise BackupError(f"restore needs a fresh data directory, and {data_dir} has a database")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stratus-restore-") as scratch:
        dump, uploads = archive.extract(source, Path(scratch))
        with database.database_url(data_dir, must_exist=False) as url:
            database.require_empty(url)
            database.restore(url, dump)
        if uploads.is_dir():
            shutil.copytree(uploads, upload_dir, dirs_exist_ok=True)
    return manifest


def _version() -> str:
    import stratus

    return stratus.__version__
