"""The code is checked for the Python it ships to (Lambda's python3.12) as well as this
machine's (3.11, the local stack's): the project admits both, and ``make test`` runs ruff and
mypy for both.

No 3.12 interpreter can be installed here, so what these checks cannot prove is listed in
infra/README.md ("What is not verified on 3.12"); tests/deploy/test_built_zips.py loads every
function from the built zips.
"""

from __future__ import annotations

import platform
import subprocess
import tomllib

from packaging.specifiers import SpecifierSet

from infra.packaging.target import LAMBDA
from tests.support.proxy import REPO

LAMBDA_VERSION = ".".join(map(str, LAMBDA.python))


def _make_dry_run(*targets: str) -> list[str]:
    """The commands ``make`` would run for ``targets``, without the virtualenv's own recipe."""
    result = subprocess.run(
        ["make", "--dry-run", "--old-file=.venv/.installed", *targets],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.replace("\\\n", " ").splitlines()


def test_requires_python_admits_the_lambda_runtime_and_this_machine() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    admitted = SpecifierSet(project["requires-python"])
    assert LAMBDA_VERSION in admitted, f"{LAMBDA.runtime} is not in {admitted}"
    assert platform.python_version() in admitted


def test_make_test_runs_ruff_and_mypy_for_the_lambda_runtime_too() -> None:
    commands = [" ".join(line.split()) for line in _make_dry_run("lint", "typecheck")]
    ruff = [c for c in commands if c.startswith(".venv/bin/ruff check")]
    mypy = [c for c in commands if c.startswith(".venv/bin/mypy")]
    py = f"py{LAMBDA.python[0]}{LAMBDA.python[1]}"
    # Each also runs as configured, for 3.11 (pyproject.toml's target-version, python_version).
    assert ".venv/bin/ruff check ." in ruff
    assert any(f"--target-version {py}" in c for c in ruff), ruff
    assert ".venv/bin/mypy" in mypy
    assert f".venv/bin/mypy --python-version {LAMBDA_VERSION}" in mypy, mypy
    # ... inside make test (and so in CI).
    test_rule = next(
        line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith("test:")
    )
    assert {"lint", "typecheck"} <= set(test_rule.split("##")[0].split()[1:])
