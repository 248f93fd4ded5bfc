"""``python -m local.backup``: back up the local stack, or restore a backup.

    create  [--data-dir D] [--output-dir backups]   (make backup)
    restore ARCHIVE [--data-dir D]                  (make restore ARCHIVE=...)

Works whether the stack is running or not. Restore only into a fresh data directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local.backup import BackupError, create_backup, restore_backup


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.backup", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    default_data = Path(os.environ.get("STRATUS_DATA_DIR", "./data"))
    create = commands.add_parser("create", help="write a timestamped backup archive")
    create.add_argument("--data-dir", type=Path, default=default_data)
    create.add_argument("--output-dir", type=Path, default=Path("backups"))
    restore = commands.add_parser("restore", help="restore an archive into a fresh data dir")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--data-dir", type=Path, default=default_data)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "create":
            print(f"Backup written: {create_backup(args.data_dir, args.output_dir)}")
        else:
            manifest = restore_backup(args.archive, args.data_dir)
            print(
                f"Restored the backup of {manifest['created_at']} into {args.data_dir.resolve()}"
                f" ({manifest['uploads']} upload files)"
            )
    except BackupError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
