"""make backup / make restore round trip: real embedded Postgres, real files, the real CLI.

GIVEN a stack's data directory with accounts in Postgres and files in uploads/, WHEN it is
backed up (while its server runs, and while it is stopped) and restored into a fresh data
directory, THEN the rows and the files come back, and a used directory is refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# Damaged archives and failed restores: one line on stderr, and the target as it was.
#
# GIVEN one real backup (with its signing key, and without), WHEN a copy of it is truncated,
# bit-flipped, not gzip at all, altered under its checksums, or carries a dump that pg_restore
# cannot finish, THEN restore exits 1 with one line saying what is wrong, no traceback, nothing
# in the target (not even a half-restored Postgres), and a retry with a good archive works.


@pytest.fixture(scope="module")
def backups() -> Iterator[dict[str, Path]]:
    """A stack's data directory (with its signing key) backed up with and without the key."""
    with server_data_dir("stratus-backups-") as root:
        source = root / "source"
        _make_stack_data(source)
        start_embedded_postgres(source / "postgres").stop()
        (source / "secret_key").write_text("the-source-stacks-signing-key\n")
        (source / "secret_key").chmod(0o600)
        made = {}
        for name, extra in [("plain", []), ("with_key", ["--include-secret-key"])]:
            out = root / name
            created = backup_cli(
                "create", "--data-dir", str(source), "--output-dir", str(out), *extra
            )
            assert created.returncode == 0, created.stderr
            made[name] = next(out.glob("stratus-backup-*.tar.gz"))
        made["source"] = source
        yield made


def _members(archive: Path) -> dict[str, bytes]:
    members = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            content = tar.extractfile(member) if member.isfile() else None
            if content is not None:
                members[member.name] = content.read()
    return members


def _rewrite(target: Path, members: dict[str, bytes]) -> Path:
    """A well-formed .tar.gz holding `members` (gzip and tar are fine; only the content lies)."""
    with tarfile.open(target, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return target


def _manifest(members: dict[str, bytes]) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(members["manifest.json"])
    return manifest


def _refused(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("restore failed: ")
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


def _untouched(target: Path) -> None:
    assert not target.exists(), sorted(p.name for p in target.rglob("*"))
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]
    assert leftovers == []


def _damaged(kind: str, good: bytes) -> bytes:
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "bit-flipped":
        flipped = bytearray(good)
        flipped[len(good) // 2] ^= 0x10
        return bytes(flipped)
    assert kind == "not-gzip"
    return b"PK\x03\x04 this is a zip file, or a text file, anything but a Stratus backup\n" * 50


@pytest.mark.parametrize("kind", ["truncated", "bit-flipped", "not-gzip"])
def test_a_damaged_archive_is_refused_in_one_line_before_anything_is_written(
    backups: dict[str, Path], scratch: Path, kind: str
) -> None:
    archive = scratch / f"{kind}.tar.gz"
    archive.write_bytes(_damaged(kind, backups["plain"].read_bytes()))
    target = scratch / "restored"
    before = scratch.stat().st_mtime_ns
    line = _refused(backup_cli("restore", str(archive), "--data-dir", str(target)), str(archive))
    assert "cannot be read" in line or "is damaged" in line, line
    _untouched(target)
    # Not even a scratch folder was made beside the target (it would change the folder's mtime).
    assert scratch.stat().st_mtime_ns == before


def test_a_member_changed_under_its_checksum_is_refused(
    backups: dict[str, Path], scratch: Path
) -> None:
    members = _members(backups["plain"])
    members["uploads/u1/notes.txt"] = b"not what was backed up\n"
    archive = _rewrite(scratch / "altered.tar.gz", members)
    target = scratch / "restored"
    before = scratch.stat().st_mtime_ns
    _refused(
        backup_cli("restore", str(archive), "--data-dir", str(target)),
        "is damaged: the sha256 of uploads/u1/notes.txt differs from its manifest.json",
    )
    _untouched(target)
    assert scratch.stat().st_mtime_ns == before  # checked before anything was written


def test_a_truncated_dump_leaves_no_half_restored_database_and_a_retry_works(
    backups: dict[str, Path], scratch: Path
) -> None:
    # GIVEN an archive whose dump was cut short before it was archived: every checksum holds
    members = _members(backups["plain"])
    dump = members["postgres.dump"][: len(members["postgres.dump"]) * 2 // 3]
    manifest = _manifest(members)
    checksums = manifest.get("sha256", {})  # none in archives older than format 2
    manifest["sha256"] = {**checksums, "postgres.dump": hashlib.sha256(dump).hexdigest()}
    members |= {"postgres.dump": dump, "manifest.json": json.dumps(manifest).encode()}
    archive = _rewrite(scratch / "short-dump.tar.gz", members)
    target = scratch / "restored"
    # WHEN it is restored, pg_restore fails part-way: one line, and nothing in the target
    _refused(backup_cli("restore", str(archive), "--data-dir", str(target)), "pg_restore failed")
    _untouched(target)
    # THEN the same target takes a good archive at once, with no cleaning by hand
    retry = backup_cli("restore", str(backups["plain"]), "--data-dir", str(target))
    assert retry.returncode == 0, retry.stderr
    users, files, pending = _restored(target)
    assert users == sorted(USERS)
    assert files == FILES
    assert pending == []


def test_the_signing_key_is_in_the_backup_only_when_asked_for(
    backups: dict[str, Path], scratch: Path
) -> None:
    key = (backups["source"] / "secret_key").read_bytes()
    assert "secret_key" not in _members(backups["plain"])
    assert _members(backups["with_key"])["secret_key"] == key
    assert _manifest(_members(backups["with_key"]))["secret_key"] is True

    with_key = backup_cli("restore", str(backups["with_key"]), "--data-dir", str(scratch / "a"))
    assert with_key.returncode == 0, with_key.stderr
    assert "with the signing key" in with_key.stdout
    restored_key = scratch / "a" / "secret_key"
    assert restored_key.read_bytes() == key
    assert oct(restored_key.stat().st_mode & 0o777) == "0o600"

    plain = backup_cli("restore", str(backups["plain"]), "--data-dir", str(scratch / "b"))
    assert plain.returncode == 0, plain.stderr
    assert "without the signing key" in plain.stdout
    assert not (scratch / "b" / "secret_key").exists()
    users, _, _ = _restored(scratch / "b")
    assert users == sorted(USERS)


def test_the_key_option_states_its_risk_and_needs_a_key_file(scratch: Path) -> None:
    help_text = " ".join(backup_cli("create", "--help").stdout.split())
    assert "--include-secret-key" in help_text
    assert "Off by default" in help_text
    assert "can forge a session for any account" in help_text
    source = scratch / "source"
    _make_stack_data(source)
    start_embedded_postgres(source / "postgres").stop()
    result = backup_cli(
        "create", "--data-dir", str(source), "--output-dir", str(scratch), "--include-secret-key"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"create failed: no signing key in {source.resolve() / 'secret_key'}: this stack signs"
        " with WEBUI_SECRET_KEY from its environment, which is not in the data directory;"
        " keep that value yourself"
    )
    assert not list(scratch.glob("*.tar.gz"))


def test_a_format_1_archive_from_stratus_0_4_0_still_restores(
    backups: dict[str, Path], scratch: Path
) -> None:
    members = _members(backups["plain"])
    manifest = _manifest(members)
    old = {k: v for k, v in manifest.items() if k not in {"sha256", "secret_key"}} | {"format": 1}
    members["manifest.json"] = json.dumps(old).encode()
    archive = _rewrite(scratch / "format-1.tar.gz", members)
    restored = backup_cli("restore", str(archive), "--data-dir", str(scratch / "restored"))
    assert restored.returncode == 0, restored.stderr
    users, files, _ = _restored(scratch / "restored")
    assert users == sorted(USERS)
    assert files == FILES
