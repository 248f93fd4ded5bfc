"""Request bodies arrive in the media type their route declares, and JSON arrives as UTF-8.

A route declares its body by the ``data`` parameter, as Litestar reads it: ``JSONBody[...]`` (or
a plain annotation) takes JSON; ``Annotated[..., Body(media_type=RequestEncodingType.MULTI_PART)]``
takes multipart, so a file upload route needs nothing more; a raw ``body: RawBody`` takes any type.
A route may also list its types in ``opt`` with ``accepts(...)``.

Anything else gets 415 before the body is parsed, so a form post or ``text/plain`` is never fed
to the JSON decoder. JSON routes also refuse a body that is not UTF-8 with 400 (RFC 8259 allows
nothing else, and msgspec would otherwise fail with an exception that is not a client error), and
one nested deeper than ``MAX_JSON_DEPTH`` with 400 (msgspec would hit Python's recursion limit:
a 500 and a traceback per request; matrix row 35).
Runs as a guard after the access guard, so an unauthenticated caller learns nothing new.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.enums import RequestEncodingType
from litestar.handlers.base import BaseRouteHandler
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.params import BodyKwarg

from stratus.errors import BadRequestError, UnsupportedMediaTypeError
from stratus.observability import get_logger
from stratus.web.json_depth import MAX_JSON_DEPTH, too_deep

ACCEPTS_KEY = "body_media_types"
ANY_MEDIA_TYPE = "*/*"
JSON = RequestEncodingType.JSON.value
_UTF8 = frozenset({"utf-8", "utf8"})


def accepts(*media_types: str) -> dict[str, Any]:
    """Route ``opt`` that lists the body media types a route takes, overriding its ``data``."""
    return {ACCEPTS_KEY: tuple(media_types)}


def declared_media_types(handler: BaseRouteHandler) -> tuple[str, ...]:
    """The body media types a route takes; empty when it takes no body."""
    listed = handler.opt.get(ACCEPTS_KEY)
    if listed:
        return tuple(listed)
    if not isinstance(handler, HTTPRouteHandler):
        return ()
    data = handler.parsed_data_field
    if data is None:
        # The reserved ``body`` parameter is the raw bytes, whatever their type.
        return (ANY_MEDIA_TYPE,) if "body" in handler.parsed_fn_signature.parameters else ()
    kwarg = data.kwarg_definition
    media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else JSON
    return (media_type.value if isinstance(media_type, RequestEncodingType) else media_type,)


def _matches(declared: str, sent: str) -> bool:
    if declared in (ANY_MEDIA_TYPE, sent):
        return True
    # application/merge-patch+json and friends are JSON too.
    return declared == JSON and sent.startswith("application/") and sent.endswith("+json")


def _describe(media_types: tuple[str, ...]) -> str:
    return " or ".join(media_types)


async def body_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    declared = declared_media_types(handler)
    if not declared or not isinstance(connection, Request):
        return
    sent, options = connection.content_type
    sent = sent.strip().lower()
    if not sent:
        # Content-Length is not always there (API Gateway events lack it), so look at the body.
        if await connection.body():
            raise UnsupportedMediaTypeError(
                f"Send the body with a Content-Type header: {_describe(declared)}."
            )
        return
    matched = next((d for d in declared if _matches(d, sent)), None)
    if matched is None:
        raise UnsupportedMediaTypeError(
            f"This route takes {_describe(declared)}, not {sent[:100]}."
        )
    if matched != JSON:
        return
    if options.get("charset", "utf-8").strip().lower() not in _UTF8:
        raise UnsupportedMediaTypeError("JSON bodies must be UTF-8 (charset=utf-8).")
    body = await connection.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError("The request body is not valid UTF-8.") from None
    if too_deep(body):
        # One line, no traceback: a client's mistake (or probe), not ours.
        get_logger().warning("request JSON nested too deeply", extra={"limit": MAX_JSON_DEPTH})
        raise BadRequestError(
            f"The JSON body is nested too deeply (more than {MAX_JSON_DEPTH} levels)."
        )
