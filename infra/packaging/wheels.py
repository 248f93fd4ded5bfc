"""The third-party layer: wheels for the target, never this machine's, checked after install.

Wheels are downloaded once into a cache (pinned versions, binary only, the target's platform
tags) and installed from there without an index, so a rebuild needs no network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from infra.packaging.target import Target


class WheelMismatchError(RuntimeError):
    """A wheel or library in the layer would not load on the target runtime."""


class WheelCacheError(RuntimeError):
    """pip could not fill the wheel cache (no network, most often) or install from it."""


@dataclass(frozen=True)
class Pin:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def read_pins(requirements: Path) -> list[Pin]:
    pins = []
    for line in requirements.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        specs = list(requirement.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise ValueError(f"{requirements}: {text!r} is not pinned with ==")
        pins.append(Pin(canonicalize_name(requirement.name), specs[0].version))
    return pins


def read_excluded(requirements: Path) -> frozenset[str]:
    """The distributions left out of the layer on purpose: ``excluded.txt`` beside the pins."""
    path = requirements.with_name("excluded.txt")
    if not path.exists():
        return frozenset()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return frozenset(canonicalize_name(line) for line in lines if line)


def _pip_target_options(target: Target) -> list[str]:
    options = ["--only-binary=:all:", "--no-deps", "--implementation", "cp"]
    options += ["--python-version", f"{target.python[0]}.{target.python[1]}"]
    options += ["--abi", target.python_tag]
    for platform in target.platforms:
        options += ["--platform", platform]
    return options


def _cached_wheel(cache: Path, pin: Pin, target: Target) -> Path | None:
    for wheel in cache.glob("*.whl"):
        name, version, _, tags = parse_wheel_filename(wheel.name)
        if name == pin.name and str(version) == pin.version and tags & target.supported_tags:
            return wheel
    return None


def download(requirements: Path, cache: Path, target: Target) -> None:
    """Fetch the wheels the cache lacks (the only step that needs the package index)."""
    cache.mkdir(parents=True, exist_ok=True)
    pins = read_pins(requirements)
    missing = [pin for pin in pins if _cached_wheel(cache, pin, target) is None]
    if not missing:
        return
    print(
        f"Downloading {len(missing)} wheels for {target.runtime} on {target.architecture}"
        f" into {cache} (kept: later builds need no network)",
        flush=True,
    )
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(cache)]
    result = _pip([*command, *_pip_target_options(target), *map(str, missing)])
    if result.returncode != 0:
        lacking = (
            "is empty"
            if len(missing) == len(pins)
            else f"lacks {len(missing)} of its {len(pins)} wheels (first: {missing[0]})"
        )
        raise WheelCacheError(
            f"the wheel cache {cache} {lacking} and pip could not download them"
            f" ({_pip_error(result)}; no network?). Fill it by running make package once with"
            " access to the package index (PyPI, or PIP_INDEX_URL's), or copy the folder from a"
            " machine that has; later builds need no network"
        )


def install(requirements: Path, cache: Path, site: Path, target: Target) -> None:
    """Install the pinned wheels into `site` (the layer's python/ folder), from the cache only."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index"]
    command += ["--find-links", str(cache), "--target", str(site), "--no-compile"]
    command += _pip_target_options(target)
    result = _pip([*command, "--requirement", str(requirements)])
    if result.returncode != 0:
        raise WheelCacheError(
            f"pip could not install the layer from the wheel cache {cache}"
            f" ({_pip_error(result)}); delete the folder and run make package again"
        )
    # Console scripts carry this machine's interpreter path, and Lambda never runs them.
    shutil.rmtree(site / "bin", ignore_errors=True)


def _pip(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _pip_error(result: subprocess.CompletedProcess[str]) -> str:
    """pip's first error line: what went wrong, without pip's advice and retries."""
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    return (errors or [line for line in lines if line] or [f"exit {result.returncode}"])[0]


def wheel_tags(dist_info: Path) -> set[Tag]:
    headers = HeaderParser().parsestr((dist_info / "WHEEL").read_text())
    return {tag for value in headers.get_all("Tag", []) for tag in parse_tag(value)}


def _dist_infos(site: Path) -> Iterator[Path]:
    yield from sorted(site.glob("*.dist-info"))


def verify(site: Path, requirements: Path, target: Target) -> None:
    """Prove, offline, that every installed wheel and native library suits the target."""
    problems = []
    installed = {}
    for dist_info in _dist_infos(site):
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        installed[canonicalize_name(name)] = version
        tags = wheel_tags(dist_info)
        if not tags & target.supported_tags:
            shown = ", ".join(sorted(map(str, tags)))
            problems.append(f"{dist_info.name}: tags {shown} do not fit {target.runtime}")
    wanted = {pin.name: pin.version for pin in read_pins(requirements)}
    if installed != wanted:
        problems.append(f"installed {installed} differ from the pins {wanted}")
    problems += unmet_requirements(site, target, read_excluded(requirements))
    for library in sorted(site.rglob("*.so*")):
        machine = _elf_machine(library)
        if machine is not None and machine != target.elf_machine:
            problems.append(
                f"{library.relative_to(site)}: ELF machine {machine}, not {target.machine}"
            )
    if problems:
        raise WheelMismatchError("\n".join(problems))


def unmet_requirements(site: Path, target: Target, excluded: frozenset[str]) -> list[str]:
    """What an installed distribution requires on the target (its markers evaluated for the
    target's Python and platform, no extras) that the layer lacks or has at a version outside
    the range, except the distributions excluded on purpose."""
    installed = {}
    for dist_info in _dist_infos(site):
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        installed[canonicalize_name(name)] = version
    problems = []
    for dist_info in _dist_infos(site):
        metadata = dist_info / "METADATA"
        if not metadata.exists():
            continue
        for line in HeaderParser().parsestr(metadata.read_text()).get_all("Requires-Dist", []):
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(target.markers):
                continue
            name = canonicalize_name(requirement.name)
            if name in excluded:
                continue
            have = installed.get(name)
            if have is None:
                problems.append(f"{dist_info.name} requires {requirement}: not in the layer")
            elif not requirement.specifier.contains(have, prereleases=True):
                problems.append(f"{dist_info.name} requires {requirement}: the layer has {have}")
    return problems


def _elf_machine(path: Path) -> int | None:
    with path.open("rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
