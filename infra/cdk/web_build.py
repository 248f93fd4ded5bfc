"""The web client's files as the cloud serves them, built offline by the local server's code.

``local.webclient.assets.load_build`` decides the build id, which files are served and the
rewritten ``index.html``; this module only writes that build out as a tree of objects:
``index.html`` and ``assets/<build>/<path>``, the keys CloudFront serves at ``/`` (the default
root object) and ``/assets/<build>/<path>``, the same URLs the local stack serves. Nothing is
hashed or rewritten here, so the two cannot differ.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from local.webclient.assets import ASSETS_PREFIX, CONTENT_TYPES, WEB_DIR, load_build
from local.webclient.headers import IMMUTABLE, REVALIDATE

INDEX_KEY = "index.html"
INDEX_CONTENT_TYPE = "text/html"


@dataclass(frozen=True)
class Upload:
    """Objects uploaded with the same metadata: the files matching ``patterns``."""

    patterns: tuple[str, ...]
    content_type: str
    cache_control: str


@dataclass(frozen=True)
class WebBuild:
    directory: Path
    build_id: str
    # Object key -> content type, for every file of the build.
    files: Mapping[str, str]
    # A hash of every key, content type and content: the asset's identity in the template.
    digest: str


def s3_content_type(content_type: str) -> str:
    """What the local server sends for that type: Litestar adds a charset to text types."""
    return f"{content_type}; charset=utf-8" if content_type.startswith("text/") else content_type


def uploads() -> tuple[Upload, ...]:
    """One upload per content type (S3 stores one Content-Type per object and the deployment
    sets one per upload), from the local server's table of served suffixes; the assets are
    immutable, the page is revalidated, as locally."""
    by_type: dict[str, list[str]] = {}
    for suffix, content_type in sorted(CONTENT_TYPES.items()):
        by_type.setdefault(content_type, []).append(f"{ASSETS_PREFIX.strip('/')}/*{suffix}")
    assets = tuple(
        Upload(tuple(patterns), s3_content_type(content_type), IMMUTABLE)
        for content_type, patterns in sorted(by_type.items())
    )
    page = Upload((INDEX_KEY,), s3_content_type(INDEX_CONTENT_TYPE), REVALIDATE)
    return (*assets, page)


def build_web(out: Path, web_dir: Path = WEB_DIR) -> WebBuild:
    """Write the current build of ``web_dir`` into ``out`` (emptied first)."""
    build = load_build(web_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files: dict[str, str] = {}
    bodies: dict[str, bytes] = {INDEX_KEY: build.index.body}
    files[INDEX_KEY] = s3_content_type(build.index.content_type)
    root = PurePosixPath(ASSETS_PREFIX.strip("/")) / build.id
    for path, asset in build.assets.items():
        key = str(root / path)
        bodies[key] = asset.body
        files[key] = s3_content_type(asset.content_type)
    digest = hashlib.sha256()
    for key in sorted(bodies):
        target = out / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bodies[key])
        digest.update(f"{key}\0{files[key]}\0".encode())
        digest.update(hashlib.sha256(bodies[key]).digest())
    return WebBuild(out, build.id, files, digest.hexdigest())
