"""The first ``make`` (the virtualenvs: minutes of pip) says what it is doing as it goes.

GIVEN no virtualenv, WHEN make would build one (a dry run: nothing is installed), THEN every
step is announced by a line of its own, and the long pip installs show pip's own progress
instead of running --quiet.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.proxy import REPO


def _dry_run(venv: Path, *targets: str) -> list[str]:
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", f"VENV={venv}", *targets],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.replace("\\\n", " ").splitlines()


@pytest.mark.parametrize(("target", "lock"), [("venv", "dev.lock"), ("checkov", "checkov.lock")])
def test_building_a_virtualenv_shows_each_step_and_pips_progress(
    tmp_path: Path, target: str, lock: str
) -> None:
    lines = _dry_run(tmp_path / "no-venv-yet", target)
    commands = [line for line in lines if not line.startswith("#")]
    installs = [i for i, c in enumerate(commands) if f"-r requirements/{lock}" in c]
    assert len(installs) == 1, commands
    install = commands[installs[0]]
    assert "--quiet" not in install.split()
    assert "-q" not in install.split()
    assert "--progress-bar on" in install
    # Announced just before it runs, saying what and for how long; so is the virtualenv.
    announce = commands[installs[0] - 1]
    assert announce.startswith('echo "==> ')
    assert lock in announce
    assert "minute" in announce
    create = next(i for i, c in enumerate(commands) if " -m venv " in c)
    assert commands[create - 1].startswith('echo "==> ')
    assert commands[-1].startswith(f'echo "==> {target} ready')
