"""The client's IP: from the gateway when there is one, else the peer, else a trusted proxy's word.

Sources, in order:

1. Behind API Gateway with Mangum, the event's request context (the gateway sets ``sourceIp``).
2. Behind the Lambda Web Adapter (chat), the ``x-amzn-request-context`` header, which the adapter
   writes over anything a client sent; trusted only in Lambda (``trust_adapter_context``), since
   anywhere else a client could send it.
3. ``X-Forwarded-For``, only when the peer is in ``FORWARDED_ALLOW_IPS`` (empty by default), read
   from the nearest hop back; hops that are not IP addresses are ignored.
4. Otherwise the TCP peer.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Sequence
from typing import Any

from litestar.types import Scope

_ADAPTER_HEADER = b"x-amzn-request-context"


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


def client_ip(
    scope: Scope, trusted_proxies: Sequence[str], *, trust_adapter_context: bool = False
) -> str:
    event = scope.get("aws.event")
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
    from stratus.settings import web_settings

    settings = web_settings()
    return client_ip(
        scope,
        settings.forwarded_allow_ips,
        trust_adapter_context=settings.trust_adapter_context,
    )
