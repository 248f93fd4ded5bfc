"""Build every artifact into dist/, with a size report and the 250 MB check.

dist/layers/deps.zip       third-party runtime dependencies (python/...)
dist/layers/stratus.zip    the shared package, layers/stratus/python as-is (python/stratus/...)
dist/functions/<name>.zip  functions/__init__.py and functions/<name>/
dist/manifest.json         target, and per artifact its sha256 and sizes
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.packaging import wheels
from infra.packaging.archive import Source, write_zip
from infra.packaging.target import Target

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("auth", "chat", "rag")
REQUIREMENTS = REPO / "layers" / "deps" / "requirements.txt"
# Lambda's quota for a function and all its layers, unzipped. AWS writes "250 MB"; the smaller
# reading (decimal megabytes) is the safe one.
UNZIPPED_LIMIT = 250 * 1000 * 1000


class PackageTooLargeError(RuntimeError):
    pass


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str  # relative to dist/
    sha256: str
    zipped: int
    unzipped: int


@dataclass(frozen=True)
class Report:
    target: Target
    artifacts: dict[str, Artifact]

    def function_total(self, function: str) -> int:
        """A function with its two layers, unzipped, as Lambda counts it."""
        parts = (f"function:{function}", "layer:stratus", "layer:deps")
        return sum(self.artifacts[part].unzipped for part in parts if part in self.artifacts)


def _artifact(name: str, dist: Path, zip_path: Path, unzipped: int) -> Artifact:
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    relative = zip_path.relative_to(dist).as_posix()
    return Artifact(name, relative, digest, zip_path.stat().st_size, unzipped)


def build_first_party(dist: Path, repo: Path = REPO) -> dict[str, Artifact]:
    """The stratus layer and the function zips: fast, and all first-party code."""
    artifacts = {}
    stratus = dist / "layers" / "stratus.zip"
    size = write_zip(stratus, [Source(repo / "layers" / "stratus" / "python", "python")])
    artifacts["layer:stratus"] = _artifact("layer:stratus", dist, stratus, size)
    for function in FUNCTIONS:
        path = dist / "functions" / f"{function}.zip"
        only = ("functions/__init__.py", f"functions/{function}")
        size = write_zip(path, [Source(repo, "", only=only)])
        artifacts[f"function:{function}"] = _artifact(f"function:{function}", dist, path, size)
    return artifacts


def build_deps(dist: Path, cache: Path, target: Target, requirements: Path) -> Artifact:
    wheels.download(requirements, cache, target)
    with tempfile.TemporaryDirectory(prefix="stratus-deps-") as scratch:
        site = Path(scratch) / "python"
        wheels.install(requirements, cache, site, target)
        wheels.verify(site, requirements, target)
        path = dist / "layers" / "deps.zip"
        size = write_zip(path, [Source(site, "python")])
    return _artifact("layer:deps", dist, path, size)


def build_all(dist: Path, cache: Path, target: Target) -> Report:
    if dist.exists():
        shutil.rmtree(dist)
    artifacts = build_first_party(dist)
    artifacts["layer:deps"] = build_deps(dist, cache, target, REQUIREMENTS)
    report = Report(target, dict(sorted(artifacts.items())))
    manifest = {
        "runtime": target.runtime,
        "architecture": target.architecture,
        "platforms": target.platforms,
        "artifacts": {name: asdict(artifact) for name, artifact in report.artifacts.items()},
    }
    (dist / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return report


def check_sizes(report: Report, limit: int = UNZIPPED_LIMIT) -> None:
    over = [
        f"{function}: {_mb(report.function_total(function))} with its layers, limit {_mb(limit)}"
        for function in FUNCTIONS
        if report.function_total(function) > limit
    ]
    if over:
        raise PackageTooLargeError("unzipped size over Lambda's limit: " + "; ".join(over))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} kB"


def size_table(report: Report) -> str:
    rows = [("artifact", "zipped", "unzipped")]
    rows += [(a.path, _mb(a.zipped), _mb(a.unzipped)) for a in report.artifacts.values()]
    rows += [
        (f"{function} + layers", "", _mb(report.function_total(function))) for function in FUNCTIONS
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}" for row in rows]
    return "\n".join(lines)
