"""cloud-init's own JSON schema for #cloud-config, taken from Debian's cloud-init package.

The package is downloaded with apt-get (not installed: cloud-init would hook into the boot of
the machine running the tests) and its schema file cached under build/cache/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.support.proxy import REPO

CACHE = REPO / "build" / "cache" / "cloud-init"
_SCHEMA_IN_PACKAGE = (
    "usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json"
)


class SchemaUnavailableError(RuntimeError):
    pass


def cloud_config_schema() -> dict[str, Any]:
    cached = CACHE / "schema-cloud-config-v1.json"
    if not cached.exists():
        _download(cached)
    schema: dict[str, Any] = json.loads(cached.read_text())
    return schema


def top_level_keys(schema: dict[str, Any]) -> set[str]:
    """Every key some cloud-init module reads; the schema itself lets unknown ones through."""
    keys: set[str] = set()
    for ref in schema["allOf"]:
        definition = schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]
        keys.update(definition.get("properties", {}))
    return keys


def _download(target: Path) -> None:
    apt_get, dpkg_deb = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt_get is None or dpkg_deb is None:
        raise SchemaUnavailableError(
            "the user-data test checks against cloud-init's schema from Debian's cloud-init "
            "package and needs apt-get and dpkg-deb to fetch it"
        )
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        # apt's sandbox user must be able to write the downloaded file.
        work.chmod(0o777)
        command = [apt_get, "download", "-q", "cloud-init"]
        fetched = subprocess.run(command, cwd=work, capture_output=True, text=True)
        if fetched.returncode != 0 and os.geteuid() == 0:
            # A fresh machine may have no package lists yet.
            subprocess.run([apt_get, "update", "-qq"], capture_output=True)
            fetched = subprocess.run(command, cwd=work, capture_output=True, text=True)
        debs = list(work.glob("cloud-init_*.deb"))
        if fetched.returncode != 0 or not debs:
            raise SchemaUnavailableError(
                f"apt-get download cloud-init failed (run apt-get update?): {fetched.stderr}"
            )
        subprocess.run([dpkg_deb, "-x", str(debs[0]), str(work / "x")], check=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "x" / _SCHEMA_IN_PACKAGE, target)
        (target.parent / "package.txt").write_text(debs[0].name + "\n")
