"""``make vendor``: the web client's third-party files, fetched through the npm registry, pinned.

``web/vendor.lock.json`` names each package's version, the sha512 ``integrity`` of its tarball
(npm's own Subresource Integrity string) and the files taken from it, each with the sha256 of the
file as committed. ``npm pack`` fetches a tarball through the registry npm is configured for;
nothing is trusted until the tarball's sha512 matches the lock. The files are committed, so
installing or running the client needs no Node toolchain and no network: this script is only for
changing a pin (``--update`` records the new checksums).

``python -m local.webclient.vendor --check`` verifies the committed files offline (a test does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
LOCK_PATH = WEB_DIR / "vendor.lock.json"
VENDOR_DIR = WEB_DIR / "assets" / "vendor"


@dataclass(frozen=True)
class VendoredFile:
    source: str  # path inside the tarball's package/ folder
    target: str  # path under web/assets/vendor/
    sha256: str
    # (old, new) pairs applied once each: bare module specifiers become relative paths, since
    # browsers resolve no bare names without an import map (which would be an inline script).
    replace: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    files: tuple[VendoredFile, ...]


def load_lock(path: Path = LOCK_PATH) -> list[Package]:
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [
        Package(
            name=entry["name"],
            version=entry["version"],
            integrity=entry.get("integrity", ""),
            files=tuple(
                VendoredFile(
                    source=f["from"],
                    target=f["to"],
                    sha256=f.get("sha256", ""),
                    replace=tuple((old, new) for old, new in f.get("replace", [])),
                )
                for f in entry["files"]
            ),
        )
        for entry in raw["packages"]
    ]


def save_lock(packages: list[Package], path: Path = LOCK_PATH) -> None:
    entries = []
    for package in packages:
        files = []
        for f in package.files:
            item: dict[str, Any] = {"from": f.source, "to": f.target, "sha256": f.sha256}
            if f.replace:
                item["replace"] = [list(pair) for pair in f.replace]
            files.append(item)
        entries.append(
            {
                "name": package.name,
                "version": package.version,
                "integrity": package.integrity,
                "files": files,
            }
        )
    text = json.dumps({"packages": entries}, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(packages: list[Package], vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Problems with the committed files: missing, changed, or not named by the lock."""
    problems = []
    expected = set()
    for package in packages:
        if not package.integrity.startswith("sha512-"):
            problems.append(f"{package.name}: no sha512 integrity recorded")
        for f in package.files:
            expected.add(f.target)
            path = vendor_dir / f.target
            if not path.is_file():
                problems.append(f"{f.target}: missing")
            elif sha256_hex(path.read_bytes()) != f.sha256:
                problems.append(f"{f.target}: does not match its recorded sha256")
    for path in sorted(vendor_dir.rglob("*")):
        relative = path.relative_to(vendor_dir).as_posix()
        if path.is_file() and relative not in expected:
            problems.append(f"{relative}: not in {LOCK_PATH.name}")
    return problems


def _npm_pack(spec: str, destination: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("make vendor needs npm (Debian: apt-get install npm)")
    result = subprocess.run(
        [npm, "pack", spec, "--json", "--pack-destination", str(destination)],
        check=True,
        capture_output=True,
        text=True,
    )
    filename = str(json.loads(result.stdout)[0]["filename"])
    return destination / filename


def _extract(tarball: Path, package: Package, update: bool) -> Package:
    files = []
    with tarfile.open(tarball, "r:gz") as archive:
        for f in package.files:
            member = archive.extractfile(f"package/{f.source}")
            if member is None:
                raise SystemExit(f"{package.name}@{package.version} has no {f.source}")
            data = member.read()
            for old, new in f.replace:
                if data.count(old.encode()) != 1:
                    raise SystemExit(f"{f.source}: expected {old!r} exactly once")
                data = data.replace(old.encode(), new.encode())
            digest = sha256_hex(data)
            if not update and digest != f.sha256:
                raise SystemExit(f"{f.target}: sha256 {digest} differs from the lock")
            target = VENDOR_DIR / f.target
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files.append(VendoredFile(f.source, f.target, digest, f.replace))
    return Package(package.name, package.version, package.integrity, tuple(files))


def vendor(update: bool) -> int:
    packages = load_lock()
    fetched = []
    with tempfile.TemporaryDirectory(prefix="stratus-vendor-") as scratch:
        for package in packages:
            tarball = _npm_pack(f"{package.name}@{package.version}", Path(scratch))
            integrity = sri_sha512(tarball.read_bytes())
            if integrity != package.integrity and not update:
                print(
                    f"{package.name}@{package.version}: tarball integrity {integrity} differs "
                    "from the lock; refusing",
                    file=sys.stderr,
                )
                return 1
            package = Package(package.name, package.version, integrity, package.files)
            fetched.append(_extract(tarball, package, update))
            print(f"{package.name}@{package.version}: {len(package.files)} file(s), {integrity}")
    if update:
        save_lock(fetched)
    problems = check(fetched)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = check(load_lock())
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    return vendor(update="--update" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
