"""The client's IP, trusting forwarded headers only from proxies in ``FORWARDED_ALLOW_IPS``.

Behind API Gateway the source IP comes from the request context, which the gateway sets itself;
headers a client sends could be forged.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar.types import Scope


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


def _gateway_source_ip(event: dict[str, Any]) -> str | None:
    context = event.get("requestContext", {})
    source = context.get("http", {}).get("sourceIp") or context.get("identity", {}).get("sourceIp")
    return source if isinstance(source, str) and source else None


def client_ip(scope: Scope, trusted_proxies: Sequence[str]) -> str:
    event = scope.get("aws.event")
    if isinstance(event, dict):
        source = _gateway_source_ip(event)
        if source:
            return source
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not _trusted(peer, trusted_proxies):
        return str(peer)
    forwarded = ""
    for key, value in scope.get("headers", ()):
        if key == b"x-forwarded-for":
            hop_list = value.decode("latin-1")
            forwarded = f"{forwarded},{hop_list}" if forwarded else hop_list
    # Walk from the nearest hop back; the first address we don't trust is the client.
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else str(peer)
