"""``python -m local.backup``: back up the local stack, or restore a backup.

    create  [--data-dir D] [--output-dir backups] [--include-secret-key]   (make backup)
    restore ARCHIVE [--data-dir D]                                          (make restore)

Works whether the stack is running or not. Restore only into a fresh data directory: the
archive is checked whole (gzip, checksums) and restored beside it first, then moved into place,
so a failed restore leaves the target as it was. Every failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local.backup import BackupError, create_backup, restore_backup

KEY_HELP = (
    "also store the signing key (DATA_DIR/secret_key), so that a restore keeps everyone signed"
    " in. Off by default. The risk: whoever holds the archive can forge a session for any"
    " account, the administrator's included, on every stack that uses this key, until the key"
    " is changed; keep such an archive as secret as the key itself. Without it, a restored"
    " stack makes a new key and everyone signs in again (unless WEBUI_SECRET_KEY is set)"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.backup", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    default_data = Path(os.environ.get("STRATUS_DATA_DIR", "./data"))
    create = commands.add_parser("create", help="write a timestamped backup archive")
    create.add_argument("--data-dir", type=Path, default=default_data)
    create.add_argument("--output-dir", type=Path, default=Path("backups"))
    create.add_argument("--include-secret-key", action="store_true", help=KEY_HELP)
    restore = commands.add_parser("restore", help="restore an archive into a fresh data dir")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--data-dir", type=Path, default=default_data)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "create":
            archive = create_backup(
                args.data_dir, args.output_dir, include_secret_key=args.include_secret_key
            )
            key = " (with the signing key: keep it secret)" if args.include_secret_key else ""
            print(f"Backup written: {archive}{key}")
        else:
            manifest = restore_backup(args.archive, args.data_dir)
            key = (
                "with the signing key: sessions stay valid"
                if manifest.get("secret_key")
                else "without the signing key: everyone signs in again"
            )
            print(
                f"Restored the backup of {manifest['created_at']} into {args.data_dir.resolve()}"
                f" ({manifest['uploads']} upload files; {key})"
            )
    except BackupError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # one line, as for the expected failures: disk full, a bug
        detail = " ".join(str(error).split())
        print(f"{args.command} failed: {type(error).__name__}: {detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
