"""Backups of the local stack: one archive with a consistent Postgres dump and the uploads.

``python -m local.backup create`` (``make backup``) and ``python -m local.backup restore``
(``make restore``). See ``database`` (dump and restore with the embedded server's own
pg_dump/pg_restore) and ``archive`` (the archive's layout and safe extraction).
"""

from local.backup.archive import BackupError
from local.backup.service import create_backup, restore_backup

__all__ = ["BackupError", "create_backup", "restore_backup"]
