"""The web client's vendored libraries are exactly what ``web/vendor.lock.json`` pins: each
package by exact version and the sha512 of its npm tarball, each committed file by its sha256."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from local.webclient.vendor import VENDOR_DIR, check, load_lock, main

EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def test_every_vendored_file_matches_its_recorded_checksum():
    packages = load_lock()
    assert {p.name for p in packages} >= {"preact", "htm", "marked", "dompurify"}
    assert check(packages) == []
    assert main(["--check"]) == 0


def test_packages_are_pinned_by_exact_version_and_tarball_integrity():
    for package in load_lock():
        assert EXACT_VERSION.match(package.version), package
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", package.integrity), package
        for f in package.files:
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f


def test_a_changed_missing_or_unlisted_file_is_reported(tmp_path: Path):
    vendor = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, vendor)
    (vendor / "marked" / "marked.esm.js").write_text("export const marked = 1;\n")
    (vendor / "htm" / "htm.mjs").unlink()
    (vendor / "extra.js").write_text("alert(1)\n")
    problems = check(load_lock(), vendor)
    assert sorted(problems) == [
        "extra.js: not in vendor.lock.json",
        "htm/htm.mjs: missing",
        "marked/marked.esm.js: does not match its recorded sha256",
    ]
