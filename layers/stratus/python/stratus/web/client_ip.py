"""The client's IP: from the gateway when there is one, else the peer, else a trusted proxy's word.

Sources, in order:

1. In Lambda, through the stack's CloudFront distribution: API Gateway sees a CloudFront server,
   so the viewer's address is taken from ``x-stratus-viewer-address``, which a CloudFront
   Function sets from ``event.viewer.ip``, but only when the request also carries
   ``x-stratus-origin-verify`` equal to the secret CloudFront adds as an origin custom header
   (``STRATUS_CDN_ORIGIN_SECRET_ARN``). Without that secret configured, or with the header
   missing or wrong, the address header is a client's like any other and is ignored, so a
   caller of the API's own URL can't choose its address.
2. Behind API Gateway with Mangum, the event's request context (the gateway sets ``sourceIp``).
3. Behind the Lambda Web Adapter (chat), the ``x-amzn-request-context`` header, which the adapter
   writes over anything a client sent; trusted only in Lambda (``trust_adapter_context``), since
   anywhere else a client could send it.
4. ``X-Forwarded-For``, only when the peer is in ``FORWARDED_ALLOW_IPS`` (empty by default), read
   from the nearest hop back; hops that are not IP addresses are ignored.
5. Otherwise the TCP peer.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterator, Sequence
from typing import Any

from litestar.types import Scope

_ADAPTER_HEADER = b"x-amzn-request-context"
# Shared with infra/cdk/web.py, which makes CloudFront send them.
VIEWER_ADDRESS_HEADER = "x-stratus-viewer-address"
ORIGIN_VERIFY_HEADER = "x-stratus-origin-verify"


def _parse(value: str) -> str | None:
    """The address in canonical form, or None if ``value`` is not one."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _trusted(address: str, trusted: Sequence[str]) -> bool:
    if "*" in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in trusted
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _context_source_ip(context: Any) -> str | None:
    """``sourceIp`` of an HTTP API (``http``) or REST API (``identity``) request context."""
    if not isinstance(context, dict):
        return None
    for section in ("http", "identity"):
        part = context.get(section)
        if isinstance(part, dict) and isinstance(part.get("sourceIp"), str):
            return _parse(part["sourceIp"])
    return None


def _headers(scope: Scope, name: bytes) -> Iterator[str]:
    for key, value in scope.get("headers", ()):
        if key == name:
            yield value.decode("latin-1")


def _adapter_source_ip(scope: Scope) -> str | None:
    for value in _headers(scope, _ADAPTER_HEADER):
        try:
            return _context_source_ip(json.loads(value))
        except ValueError:
            return None
    return None


def _single(scope: Scope, name: str) -> str | None:
    """The header's value if it came exactly once: CloudFront sends each of ours once, so a
    second copy came from elsewhere and makes the request's word unusable."""
    values = list(_headers(scope, name.encode("latin-1")))
    return values[0] if len(values) == 1 else None


def _cdn_viewer_ip(scope: Scope, cdn_secret: str) -> str | None:
    verify = _single(scope, ORIGIN_VERIFY_HEADER)
    # Bytes, compared in constant time: a timing difference would leak the secret's prefix.
    if verify is None or not hmac.compare_digest(
        verify.encode("latin-1"), cdn_secret.encode("utf-8")
    ):
        return None
    viewer = _single(scope, VIEWER_ADDRESS_HEADER)
    return _parse(viewer) if viewer is not None else None


def client_ip(
    scope: Scope,
    trusted_proxies: Sequence[str],
    *,
    trust_adapter_context: bool = False,
    cdn_secret: str | None = None,
) -> str:
    event = scope.get("aws.event")
    # Only where the gateway's address would be used: that address is what CloudFront hides.
    if cdn_secret and (isinstance(event, dict) or trust_adapter_context):
        viewer = _cdn_viewer_ip(scope, cdn_secret)
        if viewer:
            return viewer
    if isinstance(event, dict):
        source = _context_source_ip(event.get("requestContext"))
        if source:
            return source
    elif trust_adapter_context:
        source = _adapter_source_ip(scope)
        if source:
            return source
    peer = str((scope.get("client") or ("unknown", 0))[0])
    if not _trusted(peer, trusted_proxies):
        return peer
    hops = [
        address
        for header in _headers(scope, b"x-forwarded-for")
        for hop in header.split(",")
        if (address := _parse(hop)) is not None
    ]
    # Walk from the nearest hop back; the first address we don't trust is the client.
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def request_client_ip(scope: Scope) -> str:
    """``client_ip`` with this process's settings: what every function's routes should call."""
    from stratus.runtime_secrets import cdn_origin_secret
    from stratus.settings import web_settings

    settings = web_settings()
    in_lambda = settings.trust_adapter_context
    return client_ip(
        scope,
        settings.forwarded_allow_ips,
        trust_adapter_context=in_lambda,
        # Read at init by the entry point; outside Lambda nothing sends CloudFront's headers.
        cdn_secret=cdn_origin_secret(settings) if in_lambda else None,
    )
