"""The web client's files, as the server hands them out: one immutable build at a time.

Every file under ``web/assets/`` is served at ``/assets/<build>/<path>``, where ``<build>`` is a
hash of all of them: a changed file changes every URL, so browsers may cache each one for a year
(``immutable``) and never run a stale mix. Relative imports between modules keep working because
the whole tree moves together. ``index.html`` names the current build (``__ASSET_ROOT__``) and is
revalidated on every load. Text files are gzipped once per build, not per request.

The catalogue is rebuilt when a file changes (size or mtime), so editing the client needs a
browser reload, not a server restart.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
ASSET_ROOT_MARK = b"__ASSET_ROOT__"
ASSETS_PREFIX = "/assets"

# Only these kinds are served; anything else under web/assets/ (licences, notes) is not.
# Litestar adds "; charset=utf-8" to text types.
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_COMPRESSIBLE = {".js", ".mjs", ".css", ".svg"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    # None where compression would not help (images).
    gzipped: bytes | None


@dataclass(frozen=True)
class Build:
    id: str
    assets: Mapping[str, Asset]
    index: Asset
    # The index's ETag: it changes with the build and with index.html itself.
    index_etag: str = field(default="")


def _gzip(data: bytes) -> bytes:
    # mtime=0: the same file always compresses to the same bytes.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _asset(path: Path, data: bytes) -> Asset:
    suffix = path.suffix
    return Asset(data, CONTENT_TYPES[suffix], _gzip(data) if suffix in _COMPRESSIBLE else None)


def _served_files(assets_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in assets_dir.rglob("*")
        if path.is_file() and path.suffix in CONTENT_TYPES and not path.name.startswith(".")
    )


def _signature(web_dir: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for path in [web_dir / "index.html", *_served_files(web_dir / "assets")]:
        stat = os.stat(path)
        entries.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def load_build(web_dir: Path = WEB_DIR) -> Build:
    assets_dir = web_dir / "assets"
    assets: dict[str, Asset] = {}
    digest = hashlib.sha256()
    for path in _served_files(assets_dir):
        relative = path.relative_to(assets_dir).as_posix()
        data = path.read_bytes()
        assets[relative] = _asset(path, data)
        digest.update(relative.encode() + b"\0" + hashlib.sha256(data).digest())
    build_id = digest.hexdigest()[:16]
    page = (web_dir / "index.html").read_bytes()
    page = page.replace(ASSET_ROOT_MARK, f"{ASSETS_PREFIX}/{build_id}".encode())
    index = Asset(page, "text/html", _gzip(page))
    etag = f'"{hashlib.sha256(page).hexdigest()[:20]}"'
    return Build(build_id, assets, index, etag)


class WebClient:
    """The current build, reloaded when the files on disk change."""

    def __init__(self, web_dir: Path = WEB_DIR) -> None:
        self.web_dir = web_dir
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._build: Build | None = None

    def current(self, *, recheck: bool = True) -> Build:
        with self._lock:
            if self._build is None or recheck:
                signature = _signature(self.web_dir)
                if self._build is None or signature != self._signature:
                    self._build = load_build(self.web_dir)
                    self._signature = signature
            return self._build

    def asset(self, build_id: str, path: str) -> Asset | None:
        build = self.current(recheck=False)
        if build_id != build.id:
            # Files may have changed since the last look; an old build id stays a 404.
            build = self.current()
        if build_id != build.id:
            return None
        return build.assets.get(path)
