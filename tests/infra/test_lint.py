"""cfn-lint and checkov on the synthesized template: clean, with checkov's accepted findings
listed (with reasons) in infra/cdk/checkov.py and nowhere else. Each tool is also shown a
broken template, to prove it is really checking."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.cdk.checkov import SKIPS
from infra.packaging.build import REPO
from tests.infra.helpers import Template, resources, uploads_bucket

CFN_LINT = [
    str(Path(sys.executable).with_name("cfn-lint")),
    "--config-file",
    str(REPO / "infra/cfn-lint.yaml"),
]
CHECKOV = REPO / ".venv" / "tools" / "checkov" / "bin" / "checkov"


def _cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CFN_LINT, "--", str(path)], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def _checkov(path: Path) -> dict[str, Any]:
    if not CHECKOV.is_file():
        pytest.fail("checkov is not installed: run `make checkov` (make test does)")
    result = subprocess.run(
        [
            str(CHECKOV),
            "--file",
            str(path),
            "--framework",
            "cloudformation",
            "--compact",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in {0, 1}, result.stderr
    report = json.loads(result.stdout)
    found: dict[str, Any] = report[0] if isinstance(report, list) else report
    return found


def test_cfn_lint_is_clean(template_path: Path) -> None:
    result = _cfn_lint(template_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_finds_a_broken_function(template: Template, tmp_path: Path) -> None:
    broken = copy.deepcopy(template)
    function = next(iter(resources(broken, "AWS::Lambda::Function").values()))
    function["Properties"]["Runtime"] = "python2.5"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = _cfn_lint(path)
    assert result.returncode != 0
    assert "E3030 'python2.5'" in result.stdout


def test_checkov_passes_with_only_the_listed_justified_skips(template_path: Path) -> None:
    report = _checkov(template_path)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 100
    skipped = report["results"]["skipped_checks"]
    listed = {skip.check for skip in SKIPS}
    for check in skipped:
        assert check["check_id"] in listed, check["check_id"]
        assert len(check["check_result"]["suppress_comment"]) > 40, check["check_id"]
    # Every listed skip is used: none lingers after what it excused went away.
    assert {c["check_id"] for c in skipped} == listed


def test_every_skip_is_needed_on_its_resource(template: Template, tmp_path: Path) -> None:
    """A skip that suppresses nothing would hide a future finding on its resource: with every
    skip stripped, checkov must fail each skipped check on exactly the resource it was on."""
    stripped = copy.deepcopy(template)
    skipped = set()
    for logical_id, resource in stripped["Resources"].items():
        metadata = resource.get("Metadata", {})
        for skip in metadata.pop("checkov", {}).get("skip", []):
            skipped.add((skip["id"], logical_id))
    assert len(skipped) > 20
    path = tmp_path / "unskipped.json"
    path.write_text(json.dumps(stripped))
    failed = {
        (c["check_id"], c["resource"].split(".", 1)[1])
        for c in _checkov(path)["results"]["failed_checks"]
    }
    assert sorted(skipped - failed) == []


def test_checkov_finds_a_public_unencrypted_bucket(template: Template, tmp_path: Path) -> None:
    bucket_id, bucket = uploads_bucket(template)
    resource = copy.deepcopy(bucket)
    del resource["Properties"]["PublicAccessBlockConfiguration"]
    del resource["Properties"]["BucketEncryption"]
    resource.pop("Metadata", None)
    broken = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {bucket_id: resource}}
    path = tmp_path / "bucket.json"
    path.write_text(json.dumps(broken))
    failed = {c["check_id"] for c in _checkov(path)["results"]["failed_checks"]}
    assert {"CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"} <= failed
