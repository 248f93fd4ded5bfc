"""A configuration mistake at the command line gets one clear line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.children import free_port

REPO = Path(__file__).resolve().parents[2]


def _run(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "PORT", "OPEN_WEBUI_PORT"} and not k.startswith("STRATUS_")
    }
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def test_migrate_without_database_url():
    result = _run("stratus.migrations")
    assert result.returncode == 2
    assert _one_line(result) == (
        "Cannot migrate: DATABASE_URL is not set (the local stack sets it for you; in AWS, "
        "DATABASE_URL_SECRET_ARN names a secret that holds it)"
    )


def test_migrate_with_a_database_that_does_not_answer():
    secret = "a-password-never-printed"
    url = f"postgresql://stratus:{secret}@127.0.0.1:{free_port()}/stratus"
    result = _run("stratus.migrations", DATABASE_URL=url)
    assert result.returncode == 1
    line = _one_line(result)
    assert line.startswith("Cannot migrate: could not connect to DATABASE_URL: ")
    assert secret not in line


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "abc", "PORT must be a whole number"),
        ("PORT", "0", "PORT must be at least 1"),
        ("OPEN_WEBUI_PORT", "70000", "OPEN_WEBUI_PORT must be at most 65535"),
    ],
)
def test_local_stack_with_a_bad_port(variable, value, message):
    result = _run("local", **{variable: value})
    assert result.returncode == 2
    assert _one_line(result) == f"Stratus cannot start: {message}"
