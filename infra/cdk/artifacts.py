"""What ``make package`` built (``dist/manifest.json``), as the stack consumes it.

The stack deploys exactly these zips, checks that they were built for the runtime and
architecture it declares, and names the release by a hash of all of them, so that layers and
functions are versioned together: any changed artifact publishes new versions of every function.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from infra.packaging.build import FUNCTIONS
from infra.packaging.target import LAMBDA, Target

LAYERS = ("deps", "stratus")


class ArtifactsError(RuntimeError):
    """dist/ is missing, incomplete, or built for another target: run ``make package``."""


@dataclass(frozen=True)
class Artifacts:
    dist: Path
    runtime: str
    architecture: str
    zips: dict[str, Path]  # "function:auth", "layer:deps", ... -> absolute path
    sha256: dict[str, str]

    def function(self, name: str) -> Path:
        return self.zips[f"function:{name}"]

    def layer(self, name: str) -> Path:
        return self.zips[f"layer:{name}"]

    @property
    def release(self) -> str:
        """One short hash over every artifact: the release these versions belong to."""
        digest = hashlib.sha256()
        for name in sorted(self.sha256):
            digest.update(f"{name}={self.sha256[name]}\n".encode())
        return digest.hexdigest()[:16]


def load_artifacts(dist: Path, target: Target = LAMBDA) -> Artifacts:
    manifest_path = dist / "manifest.json"
    if not manifest_path.is_file():
        raise ArtifactsError(f"{manifest_path} not found: run `make package` first")
    manifest = json.loads(manifest_path.read_text())
    if (manifest.get("runtime"), manifest.get("architecture")) != (
        target.runtime,
        target.architecture,
    ):
        raise ArtifactsError(
            f"{dist} was built for {manifest.get('runtime')} on {manifest.get('architecture')}, "
            f"the stack deploys {target.runtime} on {target.architecture}: run `make package`"
        )
    wanted = [f"function:{name}" for name in FUNCTIONS] + [f"layer:{name}" for name in LAYERS]
    entries = manifest.get("artifacts", {})
    zips: dict[str, Path] = {}
    sha256: dict[str, str] = {}
    for name in wanted:
        if name not in entries:
            raise ArtifactsError(f"{manifest_path} lists no {name}: run `make package`")
        path = (dist / entries[name]["path"]).resolve()
        if not path.is_file():
            raise ArtifactsError(f"{path} is missing: run `make package`")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != entries[name]["sha256"]:
            raise ArtifactsError(f"{path} does not match {manifest_path}: run `make package`")
        zips[name] = path
        sha256[name] = actual
    return Artifacts(dist.resolve(), target.runtime, target.architecture, zips, sha256)
