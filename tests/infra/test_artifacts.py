"""The stack deploys only a complete dist/ built for its runtime and architecture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra.cdk.artifacts import ArtifactsError, load_artifacts


@pytest.fixture
def copy(dist: Path, tmp_path: Path) -> Path:
    target = tmp_path / "dist"
    shutil.copytree(dist, target)
    return target


def test_a_complete_dist_loads(copy: Path) -> None:
    artifacts = load_artifacts(copy)
    assert (artifacts.runtime, artifacts.architecture) == ("python3.12", "arm64")
    assert len(artifacts.release) == 16
    assert artifacts.function("chat").name == "chat.zip"


def test_missing_dist_says_to_package(tmp_path: Path) -> None:
    with pytest.raises(ArtifactsError, match="make package"):
        load_artifacts(tmp_path / "nothing")


def test_another_target_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["architecture"] = "x86_64"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactsError, match="x86_64"):
        load_artifacts(copy)


def test_a_changed_zip_is_refused_and_changes_the_release(copy: Path) -> None:
    before = load_artifacts(copy).release
    zip_path = copy / "functions" / "rag.zip"
    zip_path.write_bytes(zip_path.read_bytes() + b"\0")
    with pytest.raises(ArtifactsError, match="does not match"):
        load_artifacts(copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    import hashlib

    manifest["artifacts"]["function:rag"]["sha256"] = hashlib.sha256(
        zip_path.read_bytes()
    ).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert load_artifacts(copy).release != before
