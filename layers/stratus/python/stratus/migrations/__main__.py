"""``python -m stratus.migrations``: apply pending migrations to ``DATABASE_URL``."""

from __future__ import annotations

import argparse
import sys

from stratus.migrations import apply_migrations, pending_migrations
from stratus.settings import database_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratus.migrations", description=__doc__)
    parser.add_argument("--list", action="store_true", help="only list pending migrations")
    args = parser.parse_args(argv)
    url = database_settings().url
    if args.list:
        for migration_id in pending_migrations(url):
            print(migration_id)
        return 0
    applied = apply_migrations(url)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
