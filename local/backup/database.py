"""Dump and restore with the embedded PostgreSQL's own pg_dump and pg_restore (PostgreSQL 18,
which also read older servers'), against the stack's database or DATABASE_URL."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local.backup.archive import BackupError
from local.postgres import postgres_binary, start_embedded_postgres


@contextmanager
def database_url(data_dir: Path, *, must_exist: bool) -> Iterator[str]:
    """DATABASE_URL if set; else the data directory's embedded server.

    A running server (the stack is up) is shared and left running; a stopped one is started
    for the job and stopped again.
    """
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    pgdata = data_dir / "postgres"
    if must_exist and not (pgdata / "PG_VERSION").exists():
        raise BackupError(f"no database in {pgdata}: nothing to back up")
    server = start_embedded_postgres(pgdata)
    try:
        yield server.database_url
    finally:
        server.stop()


def dump(url: str, target: Path) -> None:
    # One snapshot for the whole dump: consistent while the stack keeps writing.
    _run(postgres_binary("pg_dump"), "--format=custom", f"--file={target}", f"--dbname={url}")


def restore(url: str, source: Path) -> None:
    _run(
        postgres_binary("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={url}",
        str(source),
    )


def require_empty(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        ).fetchone()
    if row and row[0]:
        raise BackupError(
            "restore needs a fresh database, and this one has tables: choose a new "
            "--data-dir (or an empty DATABASE_URL)"
        )


def _run(binary: Path, *args: str) -> None:
    result = subprocess.run([str(binary), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{binary.name} failed: {_first_error(result.stderr)}")


def _first_error(stderr: str) -> str:
    """The tool's first error line (pg_restore goes on to print a context), on one line."""
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line or "FATAL" in line]
    return (errors or lines or ["no message"])[0]
