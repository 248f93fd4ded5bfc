"""The synthesized template, once per session: ``python -m infra.cdk`` (what ``make synth``
runs) on the session's ``make package`` output.

Synthesis takes ~15 s, so its template is also cached in build/cache/synth under a hash of
everything it is made from (the artifacts, the infra code, the route table, gpu-host/, the
pinned CDK); any change to one of those synthesizes afresh.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.cdk.artifacts import load_artifacts
from infra.packaging.build import REPO

CACHE = REPO / "build" / "cache" / "synth"
INPUTS = (
    "infra/**/*.py",
    "local/routing.py",
    "local/webclient/*.py",
    "web/**/*",
    "gpu-host/**/*",
    "requirements/dev.lock",
)


def _inputs_digest(dist: Path) -> str:
    digest = hashlib.sha256(load_artifacts(dist).release.encode())
    for pattern in INPUTS:
        for path in sorted(REPO.glob(pattern)):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(REPO).as_posix().encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


@pytest.fixture(scope="session")
def template_path(built: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist, _ = built
    cached = CACHE / _inputs_digest(dist) / "Stratus.template.json"
    if cached.is_file():
        return cached
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    result = subprocess.run(
        [sys.executable, "-m", "infra.cdk", "--dist", str(dist), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Synthesized" in result.stdout
    # CDK's own template check (CloudFormation Validate) reports through stderr; it must be quiet.
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr, result.stdout + result.stderr
    cached.parent.mkdir(parents=True, exist_ok=True)
    # The web client's files as the cloud assembly holds them (what `cdk deploy` uploads).
    template = json.loads((out / "Stratus.template.json").read_text())
    for key in _web_asset_keys(template):
        shutil.copytree(out / f"asset.{key}", cached.parent / WEB_ASSETS / key)
    shutil.copyfile(out / "Stratus.template.json", cached)
    return cached


WEB_ASSETS = "web-assets"


def _web_asset_keys(template: dict[str, Any]) -> set[str]:
    keys = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "Custom::CDKBucketDeployment":
            for key in resource["Properties"]["SourceObjectKeys"]:
                keys.add(key.removesuffix(".zip"))
    return keys


@pytest.fixture(scope="session")
def web_assets(template_path: Path, template: dict[str, Any]) -> Path:
    """The one directory every web upload deploys from, as staged in the cloud assembly."""
    (key,) = _web_asset_keys(template)
    return template_path.parent / WEB_ASSETS / key


@pytest.fixture(scope="session")
def template(template_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(template_path.read_text())
    return loaded


@pytest.fixture(scope="session")
def dist(built: tuple[Path, str]) -> Path:
    return built[0]
