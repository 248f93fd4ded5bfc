"""make backup / make restore round trip: real embedded Postgres, real files, the real CLI.

GIVEN a stack's data directory with accounts in Postgres and files in uploads/, WHEN it is
backed up (while its server runs, and while it is stopped) and restored into a fresh data
directory, THEN the rows and the files come back, and a used directory is refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from local.postgres import start_embedded_postgres
from stratus.migrations import apply_migrations
from tests.support.proxy import REPO
from tests.support.services import server_data_dir

USERS = [
    ("u1", "ada@example.com", "Ada", "admin"),
    ("u2", "grace@example.com", "Grace", "user"),
    ("u3", "linus@example.com", "Linus", "pending"),
]
FILES = {
    "u1/notes.txt": b"first upload\n",
    "u2/deep/nested/report.pdf": bytes(range(256)) * 40,
}


def backup_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "UPLOAD_DIR"}}
    return subprocess.run(
        [sys.executable, "-m", "local.backup", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(url: str) -> list[tuple[str, ...]]:
    with psycopg.connect(url) as conn:
        return [
            tuple(r) for r in conn.execute("SELECT id, email, name, role FROM users ORDER BY id")
        ]


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Outside pytest's temp root: run as root, the server's own user must reach these folders.
    with server_data_dir("stratus-backup-test-") as path:
        yield path


def _make_stack_data(data_dir: Path) -> str:
    server = start_embedded_postgres(data_dir / "postgres")
    apply_migrations(server.database_url)
    with psycopg.connect(server.database_url) as conn:
        for user_id, email, name, role in USERS:
            conn.execute(
                "INSERT INTO users (id, email, name, role, password_hash) "
                "VALUES (%s, %s, %s, %s, 'argon2-hash')",
                (user_id, email, name, role),
            )
    for relative, content in FILES.items():
        path = data_dir / "uploads" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return server.database_url


def _restored(data_dir: Path) -> tuple[list[tuple[str, ...]], dict[str, bytes], list[str]]:
    server = start_embedded_postgres(data_dir / "postgres")
    try:
        users = rows(server.database_url)
        pending = apply_migrations(server.database_url)
    finally:
        server.stop()
    uploads = data_dir / "uploads"
    files = {
        p.relative_to(uploads).as_posix(): p.read_bytes() for p in uploads.rglob("*") if p.is_file()
    }
    return users, files, pending


def test_backup_while_running_and_restore_into_a_fresh_directory(scratch: Path) -> None:
    source = scratch / "source"
    url = _make_stack_data(source)
    # This process holds the server, as a running `make up` would.
    server = start_embedded_postgres(source / "postgres")
    try:
        created = backup_cli("create", "--data-dir", str(source), "--output-dir", str(scratch))
        assert created.returncode == 0, created.stderr
        # The running stack's database is still up and untouched.
        assert rows(url) == sorted(USERS)
    finally:
        server.stop()
    archive = next(scratch.glob("stratus-backup-*.tar.gz"))
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "postgres.dump", "uploads/u1/notes.txt"} <= names

    target = scratch / "restored"
    restored = backup_cli("restore", str(archive), "--data-dir", str(target))
    assert restored.returncode == 0, restored.stderr
    assert "2 upload files" in restored.stdout

    users, files, pending = _restored(target)
    assert users == sorted(USERS)
    assert files == FILES
    assert pending == []  # the migration history came back with the schema


def test_backup_of_a_stopped_stack_starts_and_stops_its_server(scratch: Path) -> None:
    source = scratch / "source"
    _make_stack_data(source)
    start_embedded_postgres(source / "postgres").stop()  # the last handle: the server stops
    assert not (source / "postgres" / "postmaster.pid").exists()

    created = backup_cli("create", "--data-dir", str(source), "--output-dir", str(scratch / "b"))
    assert created.returncode == 0, created.stderr
    assert not (source / "postgres" / "postmaster.pid").exists(), "left the server running"

    archive = next((scratch / "b").glob("*.tar.gz"))
    target = scratch / "restored"
    assert backup_cli("restore", str(archive), "--data-dir", str(target)).returncode == 0
    users, files, _ = _restored(target)
    assert users == sorted(USERS)
    assert files == FILES


def test_restore_refuses_a_directory_in_use(scratch: Path) -> None:
    source = scratch / "source"
    _make_stack_data(source)
    start_embedded_postgres(source / "postgres").stop()
    assert (
        backup_cli("create", "--data-dir", str(source), "--output-dir", str(scratch)).returncode
        == 0
    )
    archive = next(scratch.glob("*.tar.gz"))

    refused = backup_cli("restore", str(archive), "--data-dir", str(source))
    assert refused.returncode == 1
    assert "fresh data directory" in refused.stderr
    users, files, _ = _restored(source)
    assert users == sorted(USERS)
    assert files == FILES


def test_backup_without_a_database_says_so(scratch: Path) -> None:
    result = backup_cli(
        "create", "--data-dir", str(scratch / "empty"), "--output-dir", str(scratch)
    )
    assert result.returncode == 1
    assert "nothing to back up" in result.stderr
    assert not list(scratch.glob("*.tar.gz"))


def test_restore_refuses_an_archive_with_foreign_members(scratch: Path) -> None:
    bad = scratch / "bad.tar.gz"
    manifest = scratch / "manifest.json"
    manifest.write_text('{"format": 1, "created_at": "x", "uploads": 0}')
    evil = scratch / "evil"
    evil.write_text("x")
    with tarfile.open(bad, "w:gz") as tar:
        tar.add(manifest, arcname="manifest.json")
        tar.add(evil, arcname="../outside.txt")
    result = backup_cli("restore", str(bad), "--data-dir", str(scratch / "target"))
    assert result.returncode == 1
    assert "unexpected member" in result.stderr
    assert not (scratch / "outside.txt").exists()
