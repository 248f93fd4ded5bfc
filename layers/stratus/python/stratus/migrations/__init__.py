"""Schema migrations: plain SQL files in ``versions/``, applied in order by yoyo-migrations.

yoyo records what it applied in its own tables and takes a lock table while it runs, so two
concurrent ``apply`` calls are safe. Run with ``python -m stratus.migrations`` (``make migrate``).
"""

from __future__ import annotations

from pathlib import Path

VERSIONS_DIR = Path(__file__).with_name("versions")


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the scheme; ``+psycopg`` selects psycopg 3."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in {"postgresql", "postgres"}:
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return f"postgresql+psycopg://{rest}"


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(VERSIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def pending_migrations(database_url: str) -> list[str]:
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url(database_url))
    return [m.id for m in backend.to_apply(read_migrations(str(VERSIONS_DIR)))]
