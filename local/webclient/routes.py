"""``GET /`` (the page) and ``GET /assets/<build>/<path>`` (its files): public, and not part of the
API, so they stay out of the OpenAPI document (``include_in_schema=False``)."""

from __future__ import annotations

from typing import Any

from litestar import HttpMethod, Request, Response, get, route
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from local.webclient.assets import ASSETS_PREFIX, Asset, WebClient
from local.webclient.headers import IMMUTABLE, REVALIDATE, SECURITY_HEADERS
from stratus.errors import NotFoundError
from stratus.web.access import Access, access

_CLIENT = WebClient()


def _accepts_gzip(request: Request[Any, Any, Any]) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _respond(
    request: Request[Any, Any, Any], asset: Asset, cache: str, etag: str | None = None
) -> Response[bytes]:
    headers = {**SECURITY_HEADERS, "cache-control": cache, "vary": "accept-encoding"}
    if etag is not None:
        headers["etag"] = etag
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request):
        body = asset.gzipped
        headers["content-encoding"] = "gzip"
    return Response(body, media_type=asset.content_type, headers=headers)


# HEAD too, for uptime monitors: the GET's headers; the server sends no body.
@route(
    "/",
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    opt=access(Access.PUBLIC),
    include_in_schema=False,
    sync_to_thread=False,
)
def web_index(request: Request[Any, Any, Any]) -> Response[bytes]:
    build = _CLIENT.current()
    return _respond(request, build.index, REVALIDATE, build.index_etag)


@get(
    f"{ASSETS_PREFIX}/{{build:str}}/{{path:path}}",
    opt=access(Access.PUBLIC),
    include_in_schema=False,
    sync_to_thread=False,
)
def web_asset(
    request: Request[Any, Any, Any], build: FromPath[str], path: FromPath[str]
) -> Response[bytes]:
    asset = _CLIENT.asset(build, path.lstrip("/"))
    if asset is None:
        raise NotFoundError("No such file.")
    return _respond(request, asset, IMMUTABLE)


def web_route_handlers() -> list[ControllerRouterHandler]:
    return [web_index, web_asset]


def is_web_path(path: str) -> bool:
    return path == "/" or path.startswith(ASSETS_PREFIX + "/")
