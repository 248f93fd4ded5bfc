"""make package: wheels for the Lambda target only, reproducible zips, sizes within the limit.

The full build (third-party layer included) runs once per session; its wheels are cached in
build/cache/wheels, shared with `make package`, so only a clean machine downloads them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.tags import Tag

from infra.packaging import wheels
from infra.packaging.build import (
    FUNCTIONS,
    REPO,
    UNZIPPED_LIMIT,
    PackageTooLargeError,
    Report,
    build_first_party,
    check_sizes,
)
from infra.packaging.target import LAMBDA, Target
from infra.packaging.wheels import WheelMismatchError
from local.children import free_port
from tests.support.package import WHEEL_CACHE

# The session-wide build (the `built` fixture) is in tests/support/package.py.
CACHE = WHEEL_CACHE


def _this_machines_extension() -> str:
    """A real compiled extension from this machine's virtualenv (x86-64)."""
    return str(importlib.import_module("_cffi_backend").__file__)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_target_tags_are_those_of_python312_on_arm64_with_glibc_234() -> None:
    tags = LAMBDA.supported_tags
    assert Tag("cp312", "cp312", "manylinux_2_17_aarch64") in tags
    assert Tag("cp312", "cp312", "manylinux_2_34_aarch64") in tags
    assert Tag("cp312", "cp312", "manylinux2014_aarch64") in tags
    assert Tag("cp310", "abi3", "manylinux_2_28_aarch64") in tags
    assert Tag("py3", "none", "any") in tags
    for foreign in [
        Tag("cp311", "cp311", "manylinux_2_17_aarch64"),  # this machine's Python
        Tag("cp312", "cp312", "manylinux_2_17_x86_64"),  # this machine's architecture
        Tag("cp312", "cp312", "manylinux_2_35_aarch64"),  # newer glibc than Amazon Linux 2023
        Tag("cp312", "cp312", "musllinux_1_2_aarch64"),
        Tag("cp312", "cp312", "linux_aarch64"),
        Tag("cp313", "cp313", "manylinux_2_17_aarch64"),
    ]:
        assert foreign not in tags, foreign


def test_package_builds_every_artifact_and_prints_sizes(built: tuple[Path, str]) -> None:
    dist, output = built
    for name in ["layers/deps.zip", "layers/stratus.zip"] + [
        f"functions/{f}.zip" for f in FUNCTIONS
    ]:
        assert (dist / name).is_file(), name
        assert name in output
    for function in FUNCTIONS:
        assert f"{function} + layers" in output
    assert "Built for Lambda python3.12 on arm64" in output


def test_deps_layer_holds_only_target_wheels(built: tuple[Path, str], tmp_path: Path) -> None:
    dist, _ = built
    with zipfile.ZipFile(dist / "layers" / "deps.zip") as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    assert all(name.startswith("python/") for name in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("python/bin/")]
    site = tmp_path / "python"
    # The same offline proof make package ran, on what was shipped.
    wheels.verify(site, REPO / "layers" / "deps" / "requirements.txt", LAMBDA)
    argon2 = next(site.glob("argon2_cffi_bindings-*.dist-info"))
    assert all(tag.platform.endswith("_aarch64") for tag in wheels.wheel_tags(argon2))
    libraries = list(site.rglob("*.so"))
    assert libraries, "the layer has native extensions (psycopg, argon2, msgspec...)"


def test_function_zips_hold_the_function_and_the_package_marker(built: tuple[Path, str]) -> None:
    dist, _ = built
    for function in FUNCTIONS:
        with zipfile.ZipFile(dist / "functions" / f"{function}.zip") as archive:
            names = archive.namelist()
        assert "functions/__init__.py" in names
        assert f"functions/{function}/__init__.py" in names
        others = [n for n in names if not n.startswith((f"functions/{function}/", "functions/__"))]
        assert not others, others
    with zipfile.ZipFile(dist / "functions" / "chat.zip") as archive:
        run_sh = archive.getinfo("functions/chat/run.sh")
    assert (run_sh.external_attr >> 16) & 0o777 == 0o755  # Lambda executes it


def test_every_function_with_its_layers_is_within_the_limit(built: tuple[Path, str]) -> None:
    dist, _ = built
    manifest = json.loads((dist / "manifest.json").read_text())
    sizes = {name: entry["unzipped"] for name, entry in manifest["artifacts"].items()}
    for function in FUNCTIONS:
        total = sizes[f"function:{function}"] + sizes["layer:stratus"] + sizes["layer:deps"]
        assert total < UNZIPPED_LIMIT


def test_size_check_fails_a_function_over_the_limit(tmp_path: Path) -> None:
    report = Report(LAMBDA, build_first_party(tmp_path))
    check_sizes(report)
    with pytest.raises(PackageTooLargeError, match="auth"):
        check_sizes(report, limit=report.function_total("auth") - 1)


def _checkout_copy(root: Path, mtime: int) -> Path:
    """The first-party sources as another checkout would have them: other timestamps."""
    for part in ("functions", "layers/stratus/python"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    for path in root.rglob("*"):
        os.utime(path, (mtime, mtime))
    return root


def test_first_party_zips_are_reproducible(tmp_path: Path) -> None:
    one = _checkout_copy(tmp_path / "one", 1_600_000_000)
    two = _checkout_copy(tmp_path / "two", 1_700_000_000)
    # A bytecode cache, as running the code leaves behind, must not change the zips either.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(two / "functions")], check=True)
    assert list((two / "functions").rglob("__pycache__"))
    first = build_first_party(tmp_path / "dist1", one)
    second = build_first_party(tmp_path / "dist2", two)
    assert {n: a.sha256 for n, a in first.items()} == {n: a.sha256 for n, a in second.items()}
    for artifact in first.values():
        built_one, built_two = (
            tmp_path / "dist1" / artifact.path,
            tmp_path / "dist2" / artifact.path,
        )
        assert _sha256(built_one) == _sha256(built_two) == artifact.sha256


def test_deps_layer_is_reproducible(built: tuple[Path, str], tmp_path: Path) -> None:
    dist, _ = built
    again = tmp_path / "dist"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.packaging",
            "--dist",
            str(again),
            "--wheel-cache",
            str(CACHE),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert (again / "manifest.json").read_text() == (dist / "manifest.json").read_text()


def test_verify_rejects_a_wheel_built_for_this_machine(tmp_path: Path) -> None:
    site = tmp_path / "python"
    dist_info = site / "argon2_cffi_bindings-26.2.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_17_x86_64\n"
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("argon2-cffi-bindings==26.2.0\n")
    with pytest.raises(WheelMismatchError, match=r"do not fit python3\.12"):
        wheels.verify(site, requirements, LAMBDA)


def test_verify_rejects_a_native_library_for_another_architecture(tmp_path: Path) -> None:
    site = tmp_path / "python"
    dist_info = site / "psycopg_binary-3.3.9.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "WHEEL").write_text("Tag: cp312-cp312-manylinux_2_17_aarch64\n")
    # A real extension module from this machine (x86-64) smuggled under an arm64 tag.
    shutil.copy(_this_machines_extension(), site / "psycopg_binary.so")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("psycopg-binary==3.3.9\n")
    with pytest.raises(WheelMismatchError) as mismatch:
        wheels.verify(site, requirements, LAMBDA)
    assert str(mismatch.value) == "psycopg_binary.so: ELF machine 62, not aarch64"


def test_target_for_this_machine_accepts_its_own_libraries(tmp_path: Path) -> None:
    site = tmp_path / "python"
    (site / "cffi-2.1.1.dist-info").mkdir(parents=True)
    (site / "cffi-2.1.1.dist-info" / "WHEEL").write_text("Tag: cp312-cp312-manylinux_2_17_x86_64\n")
    shutil.copy(_this_machines_extension(), site / "_cffi_backend.so")
    (tmp_path / "r.txt").write_text("cffi==2.1.1\n")
    wheels.verify(site, tmp_path / "r.txt", Target(machine="x86_64"))


def _offline_pip_env() -> dict[str, str]:
    """pip pointed at an index nothing answers on, with no other source of wheels."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {
        **env,
        "PIP_CONFIG_FILE": os.devnull,  # no extra index or find-links from the machine's config
        "PIP_INDEX_URL": f"http://127.0.0.1:{free_port()}/simple/",
        "PIP_RETRIES": "0",
        "PIP_DEFAULT_TIMEOUT": "5",
    }


@pytest.mark.parametrize("cached", [0, 3], ids=["empty", "partial"])
def test_package_without_network_says_the_wheel_cache_needs_filling(
    tmp_path: Path, cached: int
) -> None:
    cache = tmp_path / "wheels"
    cache.mkdir()
    for wheel in sorted(CACHE.glob("*.whl"))[:cached]:  # a cache a build left half-filled
        shutil.copy(wheel, cache)
    command = ["-m", "infra.packaging", "--dist", str(tmp_path / "dist")]
    result = subprocess.run(
        [sys.executable, *command, "--wheel-cache", str(cache)],
        cwd=REPO,
        env=_offline_pip_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"make package failed: the wheel cache {cache} ")
    pins = len(wheels.read_pins(REPO / "layers" / "deps" / "requirements.txt"))
    assert ("is empty" if not cached else f"lacks {pins - cached} of its {pins} wheels") in lines[0]
    assert "Fill it by running make package once with access to the package index" in lines[0]


def _dist_info(site: Path, name: str, version: str, *requires: str) -> None:
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "WHEEL").write_text("Tag: py3-none-any\n")
    lines = [f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\n" + "\n".join(lines) + "\n")


def test_verify_finds_what_the_layer_lacks_on_the_target(tmp_path: Path) -> None:
    site = tmp_path / "python"
    _dist_info(
        site,
        "litestar",
        "2.25.0",
        "click",
        "rich>=13.0.0",  # excluded on purpose: not a gap
        "msgspec>=0.18.2",
        "anyio>=3",
        "exceptiongroup; python_version < '3.11'",  # not on 3.12
        "uvloop; platform_machine == 'x86_64'",  # not on arm64
        "jinja2; extra == 'full'",  # an extra nobody asked for
    )
    _dist_info(site, "msgspec", "0.17.0")
    _dist_info(site, "anyio", "4.16.0")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("litestar==2.25.0\nmsgspec==0.17.0\nanyio==4.16.0\n")
    (tmp_path / "excluded.txt").write_text("# on purpose\nRich\n")
    with pytest.raises(WheelMismatchError) as gaps:
        wheels.verify(site, requirements, LAMBDA)
    assert str(gaps.value).splitlines() == [
        "litestar-2.25.0.dist-info requires click: not in the layer",
        "litestar-2.25.0.dist-info requires msgspec>=0.18.2: the layer has 0.17.0",
    ]
    # On this machine's platform, the x86-64-only requirement would be a gap too.
    assert "uvloop" in " ".join(
        wheels.unmet_requirements(site, Target(machine="x86_64"), frozenset())
    )


def test_the_layer_leaves_out_litestars_cli_and_example_extras(built: tuple[Path, str]) -> None:
    dist, _ = built
    requirements = REPO / "layers" / "deps" / "requirements.txt"
    excluded = wheels.read_excluded(requirements)
    assert excluded == {
        "faker", "polyfactory", "rich", "rich-click", "pygments", "markdown-it-py", "mdurl",
    }  # fmt: skip
    assert not excluded & {pin.name for pin in wheels.read_pins(requirements)}
    with zipfile.ZipFile(dist / "layers" / "deps.zip") as archive:
        tops = {name.split("/")[1] for name in archive.namelist()}
    for module in ("faker", "polyfactory", "rich", "rich_click", "pygments", "markdown_it"):
        assert module not in tops
    assert {"litestar", "click", "uvicorn"} <= tops  # uvicorn's CLI is chat's entry point


def test_make_lock_pins_the_layer_for_the_lambda_runtime() -> None:
    result = subprocess.run(
        ["make", "--dry-run", "--old-file=.venv/.installed", "lock"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    command = " ".join(result.stdout.replace("\\\n", " ").split())
    layer = next(
        c for c in command.split(".venv/bin/uv ")[1:] if "layers/deps/requirements.txt" in c
    )
    python = f"{LAMBDA.python[0]}.{LAMBDA.python[1]}"
    assert f"--python-version {python} --python-platform {LAMBDA.machine}-manylinux_" in layer
    for name in wheels.read_excluded(REPO / "layers" / "deps" / "requirements.txt"):
        assert f"--no-emit-package {name}" in layer
