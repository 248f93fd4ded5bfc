"""The web client is served at ``/`` by the local stack in both modes: the page, its files under
a build id with long caching, gzip, and a strict Content-Security-Policy; nothing outside the
build is reachable, and nothing in it refers to another host."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from local.composed import create_local_app
from local.lambda_bridge import create_lambda_mode_app
from local.webclient.assets import WEB_DIR, load_build
from tests.support.app_client import app_client

pytestmark = pytest.mark.anyio

APPS: dict[str, Callable[[], Any]] = {
    "in-process": create_local_app,
    "lambda-mode": create_lambda_mode_app,
}


@pytest.fixture(params=sorted(APPS))
async def client(request, env) -> AsyncIterator[AsyncTestClient[Any]]:
    async with app_client(APPS[request.param]) as test_client:
        yield test_client


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)
            if name.startswith("on") or name == "style":
                self.handlers.append(name)
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.inline_styles += 1


def _page_references(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    return parser


async def test_the_page_is_served_with_a_strict_policy(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"
    page = _page_references(response.text)
    assert page.inline_scripts == 0
    assert page.inline_styles == 0
    assert page.handlers == []


async def test_every_file_the_page_names_is_served_immutable_under_the_build(client):
    page = await client.get("/")
    build = load_build()
    urls = _page_references(page.text).urls
    assert f"/assets/{build.id}/app/main.js" in urls
    assert len(urls) >= 5
    for url in urls:
        assert url.startswith(f"/assets/{build.id}/"), url
        response = await client.get(url, headers={"accept-encoding": "identity"})
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in response.headers
        relative = url.removeprefix(f"/assets/{build.id}/")
        assert response.content == (WEB_DIR / "assets" / relative).read_bytes()


async def test_text_files_are_gzipped_for_clients_that_accept_it(client):
    build = load_build()
    url = f"/assets/{build.id}/vendor/marked/marked.esm.js"
    raw = await client.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert raw.headers["content-type"] == "text/javascript; charset=utf-8"
    # httpx decodes gzip itself; the header and the smaller wire size are what is checked here.
    zipped = await client.get(url, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "accept-encoding"
    assert zipped.content == raw.content
    assert len(build.assets["vendor/marked/marked.esm.js"].gzipped or b"") < len(raw.content) / 2


async def test_the_page_is_revalidated_by_etag(client):
    first = await client.get("/")
    again = await client.get("/", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/assets/0000000000000000/app/main.js",
        "/assets/{build}/nope.js",
        "/assets/{build}/../index.html",
        "/assets/{build}/%2e%2e/index.html",
        "/assets/{build}/vendor/preact/LICENSE",
        "/assets/{build}/../../pyproject.toml",
        "/assets/{build}/",
        "/index.html",
    ],
)
async def test_nothing_outside_the_build_is_served(client, path):
    response = await client.get(path.format(build=load_build().id))
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()


# Where a file would make the browser load something: HTML src/href, CSS url() and @import,
# JavaScript import specifiers (static and dynamic).
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""")
_JS_IMPORT = re.compile(
    r"""(?:\bimport|\bexport)\s*[\w*{}\s,$]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']"""
)
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def _loads(name: str, text: str) -> list[str]:
    if name.endswith(".css"):
        return [a or b for a, b in _CSS_URL.findall(text)]
    if name.endswith((".js", ".mjs")):
        return [a or b for a, b in _JS_IMPORT.findall(text)]
    return []


def test_no_file_of_the_client_loads_anything_from_another_host():
    build = load_build()
    found: dict[str, list[str]] = {}
    for name, asset in build.assets.items():
        for url in _loads(name, asset.body.decode("utf-8", "replace")):
            found.setdefault(name, []).append(url)
            assert not _EXTERNAL.match(url) or url.startswith("data:"), (name, url)
    # The scan sees the real imports, so an empty result cannot pass.
    assert "./preact.mjs" in found["vendor/preact/hooks.mjs"]
    assert "../vendor/preact/preact.mjs" in found["app/html.js"]
    assert "./views/app.js" in found["app/main.js"]
    page = build.index.body.decode()
    for url in _page_references(page).urls:
        assert not _EXTERNAL.match(url), url
    for forbidden in ("cdn", "unpkg", "jsdelivr", "googleapis"):
        assert forbidden not in page.lower()


def test_gzip_is_deterministic_and_decodes_to_the_file():
    build = load_build()
    asset = build.assets["app.css"]
    assert asset.gzipped is not None
    assert gzip.decompress(asset.gzipped) == asset.body
    assert load_build().assets["app.css"].gzipped == asset.gzipped
