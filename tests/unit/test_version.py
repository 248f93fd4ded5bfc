"""One version: pyproject.toml, the shared package and the changelog agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import stratus

REPO = Path(__file__).resolve().parents[2]


def test_versions_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == stratus.__version__


def test_changelog_has_a_section_for_the_version():
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(
        rf"^## \[{re.escape(stratus.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M
    )
