"""Debian packages the test suite runs for real (a reverse proxy, a shell linter, a browser,
a JavaScript runtime).

``make system-deps`` (a prerequisite of ``make test``) calls ``main`` to install the missing ones
with apt-get when it runs as root, as CI does. Anywhere else it only says what is missing, and
each test that needs a program fails with `require`'s message instead of skipping silently.

Standard library only: it runs with the system Python, before the virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# The executable each package provides, to find it without asking dpkg.
EXECUTABLES = {
    "nginx": "nginx",
    "shellcheck": "shellcheck",
    "chromium": "chromium",
    "nodejs": "node",  # runs the CloudFront Function's code (tests/infra/test_web.py)
}
# Debian keeps daemons in sbin, which a non-root PATH often lacks.
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"]
)


class MissingSystemPackageError(RuntimeError):
    pass


def find(package: str) -> str | None:
    return shutil.which(EXECUTABLES.get(package, package), path=_SEARCH_PATH)


def require(package: str) -> str:
    """The path of the package's program, or an error that says how to install it."""
    path = find(package)
    if path is None:
        raise MissingSystemPackageError(
            f"this test runs the real {EXECUTABLES.get(package, package)!r}, which is not "
            f"installed: run `make system-deps` as root, or `sudo apt-get install {package}`"
        )
    return path


def main(packages: list[str]) -> int:
    missing = [package for package in packages if find(package) is None]
    if not missing:
        return 0
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            "note: the tests need these Debian packages: "
            f"{' '.join(missing)} (sudo apt-get install {' '.join(missing)})",
            file=sys.stderr,
        )
        return 0
    print(f"Installing Debian packages for the tests: {' '.join(missing)}", file=sys.stderr)
    _apt_get("update", "-qq")
    _apt_get("install", "-y", "-qq", "--no-install-recommends", *missing)
    return 0


def _apt_get(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", *args], stdout=subprocess.DEVNULL, env=env, check=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
