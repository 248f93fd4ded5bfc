"""``make package`` once per test session, shared by the packaging and the infrastructure tests.

The wheels are cached in build/cache/wheels (as ``make package`` caches them), so only a clean
machine downloads them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.packaging.build import REPO
from infra.packaging.target import LAMBDA

WHEEL_CACHE = REPO / "build" / "cache" / "wheels" / f"{LAMBDA.runtime}-{LAMBDA.machine}"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`python -m infra.packaging` for real: the deps layer, stratus layer, function zips."""
    dist = tmp_path_factory.mktemp("package") / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.packaging",
            "--dist",
            str(dist),
            "--wheel-cache",
            str(WHEEL_CACHE),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return dist, result.stdout
