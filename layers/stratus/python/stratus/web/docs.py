"""``/docs``: the API's committed OpenAPI document and a Swagger UI page, both served locally.

Every function serves the same committed document (``stratus.openapi``), so whichever function
answers ``/docs`` (chat, in AWS) describes the whole API. The page loads Swagger UI from the
installed ``swagger-ui-bundle-v2`` package through ``/docs/static/``: no CDN, so it works offline.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, Router, get
from litestar.enums import OpenAPIMediaType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File

from stratus import __version__
from stratus.errors import NotFoundError
from stratus.openapi import document_bytes
from stratus.web.access import Access, access

DOCS_PATH = "/docs"
STATIC = f"{DOCS_PATH}/static"
# The only files the page needs, and so the only ones served.
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stratus API</title>
<link rel="icon" type="image/png" href="{STATIC}/favicon-32x32.png">
<link rel="stylesheet" href="{STATIC}/swagger-ui.css">
<style>body {{ margin: 0 }}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC}/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({{
  url: "{DOCS_PATH}/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
}});
</script>
</body>
</html>
""".encode()


class CommittedDocument(OpenAPIRenderPlugin):
    """``/docs/openapi.json``: the committed document, whatever this function's own routes."""

    def __init__(self) -> None:
        super().__init__(path="/openapi.json", media_type=OpenAPIMediaType.OPENAPI_JSON)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return document_bytes()


class OfflineSwaggerPage(OpenAPIRenderPlugin):
    """``/docs``: Swagger UI, its assets served from the installed package."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"], favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return PAGE

    def receive_router(self, router: Router) -> None:
        router.register(static_asset)


@functools.cache
def _assets_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


@get("/static/{name:str}", sync_to_thread=False)
def static_asset(name: FromPath[str]) -> File:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundError("No such file.")
    return File(
        _assets_dir() / name,
        media_type=media_type,
        content_disposition_type="inline",
        headers={"cache-control": "public, max-age=86400"},
    )


async def _json_not_found(response: Response[Any]) -> Response[Any]:
    # Litestar's docs router answers unknown /docs paths with an HTML page; ours answer JSON.
    if response.status_code == 404 and response.media_type == MediaType.HTML:
        return Response({"detail": "Not Found"}, status_code=404, media_type=MediaType.JSON)
    return response


def docs_config(service: str) -> OpenAPIConfig:
    """The OpenAPI config every function uses: the docs are public, as Open WebUI's are."""
    router = Router(
        DOCS_PATH,
        route_handlers=[],
        include_in_schema=False,
        opt=access(Access.PUBLIC),
        after_request=_json_not_found,
    )
    return OpenAPIConfig(
        title=f"Stratus {service}",
        version=__version__,
        openapi_router=router,
        render_plugins=[CommittedDocument(), OfflineSwaggerPage()],
    )
