"""``python -m stratus.migrations``: apply pending migrations to ``DATABASE_URL``."""

from __future__ import annotations

import argparse
import sys

from stratus.errors import ConfigError
from stratus.migrations import apply_migrations, pending_migrations
from stratus.runtime_secrets import database_url
from stratus.settings import database_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratus.migrations", description=__doc__)
    parser.add_argument("--list", action="store_true", help="only list pending migrations")
    args = parser.parse_args(argv)
    try:
        url = database_url(database_settings())
    except ConfigError as error:
        # An operator's mistake: one line that says what to set, not a traceback.
        print(f"Cannot migrate: {error.message}", file=sys.stderr)
        return 2
    import psycopg

    try:
        if args.list:
            for migration_id in pending_migrations(url):
                print(migration_id)
            return 0
        applied = apply_migrations(url)
    except psycopg.OperationalError as error:
        # The driver's reason names host and port, never the password in DATABASE_URL.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no reason given"
        print(f"Cannot migrate: could not connect to DATABASE_URL: {reason}", file=sys.stderr)
        return 1
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
