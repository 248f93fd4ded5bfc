"""The built zips (``make package``) laid out as Lambda lays them out, on this machine.

Lambda unpacks every layer into ``/opt`` (so ``python/`` becomes ``/opt/python``, on the import
path) and the function's zip into the task root (``/var/task``, the working directory, first on
the import path). Here both go under a scratch folder, and the interpreter is a fresh virtualenv
with nothing installed, so the functions' code and their dependencies can come from nowhere
else.

What cannot be done here is run the layer's native code: its extensions are built for CPython
3.12 on arm64. So each distribution that ships native files keeps the pure-Python files the
layer shipped, and gets this machine's native files of the same distribution at the same
version (from the test virtualenv, whose pins equal the layer's: tests/deploy/test_compose.py)
in place of its arm64 ones. The stand-in is counted, so a test can say what it swapped.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

FUNCTIONS = ("auth", "chat", "rag")


@dataclass(frozen=True)
class LambdaLayout:
    root: Path
    opt_python: Path  # the layers' python/ folders, merged: /opt/python
    task_roots: dict[str, Path]  # per function: /var/task
    python: Path  # a virtualenv's interpreter with nothing installed
    stand_ins: dict[str, int] = field(default_factory=dict)  # distribution: native files swapped

    def code(self, function: str) -> list[Path]:
        """The import path Lambda gives a function, in order (after the working directory)."""
        return [self.task_roots[function], self.opt_python]


def extract(archive: Path, target: Path) -> None:
    """Unzip with the permission bits the zip records (chat's run.sh is executable)."""
    with zipfile.ZipFile(archive) as source:
        for info in source.infolist():
            path = Path(source.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def is_native(relative: str) -> bool:
    """An extension module, a shared library, or a folder of libraries bundled by auditwheel."""
    parts = PurePosixPath(relative).parts
    name = parts[-1]
    return name.endswith(".so") or ".so." in name or any(p.endswith(".libs") for p in parts[:-1])


def _not_purelib(dist_info: Path) -> bool:
    wheel = HeaderParser().parsestr((dist_info / "WHEEL").read_text())
    return str(wheel.get("Root-Is-Purelib", "true")).strip().lower() == "false"


def _recorded(dist_info: Path) -> list[str]:
    lines = (dist_info / "RECORD").read_text().splitlines()
    return [line.rsplit(",", 2)[0] for line in lines if line.strip()]


def stand_in_native_files(site: Path) -> dict[str, int]:
    """Swap each distribution's target-built native files for this machine's (same version)."""
    swapped: dict[str, int] = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        if not _not_purelib(dist_info):
            continue
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        theirs = [r for r in _recorded(dist_info) if is_native(r)]
        if not theirs:
            continue  # platform-specific, but no native file (none so far)
        host = importlib.metadata.distribution(name)
        if host.version != version:
            raise RuntimeError(f"{name}: the layer has {version}, this machine {host.version}")
        for relative in theirs:
            (site / relative).unlink()
        ours = [f for f in host.files or [] if is_native(str(f))]
        for file in ours:
            copy = site / str(file)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file.locate(), copy)
        swapped[canonicalize_name(name)] = len(ours)
    for folder in list(site.glob("*.libs")):
        if not any(folder.iterdir()):
            folder.rmdir()
    return swapped


def empty_virtualenv(target: Path) -> Path:
    """This machine's interpreter with an empty site-packages, as Lambda's runtime has for us."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    python = target / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    installed = os.listdir(site)
    if installed:
        raise RuntimeError(f"the fresh virtualenv is not empty: {installed}")
    return python


def lay_out(dist: Path, root: Path) -> LambdaLayout:
    opt = root / "opt"
    for layer in ("deps", "stratus"):
        extract(dist / "layers" / f"{layer}.zip", opt)
    tasks = {}
    for function in FUNCTIONS:
        tasks[function] = root / "task" / function
        extract(dist / "functions" / f"{function}.zip", tasks[function])
    stand_ins = stand_in_native_files(opt / "python")
    python = empty_virtualenv(root / "runtime")
    return LambdaLayout(root, opt / "python", tasks, python, stand_ins)
