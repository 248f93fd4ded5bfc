"""The last model list each upstream answered with, kept in Postgres (``model_catalog``).

A host that sleeps (scale-to-zero), wakes or is down still has models: clients list them and
name them, and a request for one is held while the host wakes or answered 503 with
``Retry-After``, never 404. Postgres is where every instance can read the list, and it outlives
any one of them; DynamoDB holds only short-lived state.

Writes happen only when an upstream's list differs from what this process last wrote or read,
so a warm instance writes nothing; both directions are best-effort: the catalog must answer
even when the database does not.
"""

from __future__ import annotations

from typing import Any

import msgspec

from stratus.modelhost.upstreams import Upstream
from stratus.observability import get_logger

_UPSERT = """
INSERT INTO model_catalog (upstream, models, seen_at) VALUES (%s, %s::jsonb, now())
ON CONFLICT (upstream) DO UPDATE SET models = EXCLUDED.models, seen_at = now()
WHERE model_catalog.models IS DISTINCT FROM EXCLUDED.models
"""
_SELECT = "SELECT models FROM model_catalog WHERE upstream = %s"
# Never wait long for the pool on a path that is only ever a fallback or a courtesy.
_POOL_WAIT_SECONDS = 1.0


def upstream_key(upstream: Upstream) -> str:
    return f"{upstream.kind} {upstream.base_url}"


class KnownModels:
    """What each upstream last listed, as this process knows it and as Postgres keeps it."""

    def __init__(self) -> None:
        self._known: dict[str, list[dict[str, Any]]] = {}

    async def remember(self, upstream: Upstream, entries: list[dict[str, Any]]) -> None:
        key = upstream_key(upstream)
        if self._known.get(key) == entries:
            return
        from stratus.db import connection

        try:
            async with connection(wait_seconds=_POOL_WAIT_SECONDS) as conn:
                await conn.execute(_UPSERT, (key, msgspec.json.encode(entries).decode()))
        except Exception:  # the list answers anyway; the next change tries again
            get_logger().warning("could not save the model list", extra={"upstream": key})
            return
        self._known[key] = entries

    async def recall(self, upstream: Upstream) -> list[dict[str, Any]]:
        key = upstream_key(upstream)
        known = self._known.get(key)
        if known is not None:
            return known
        from stratus.db import connection

        try:
            async with connection(wait_seconds=_POOL_WAIT_SECONDS) as conn:
                row = await (await conn.execute(_SELECT, (key,))).fetchone()
        except Exception:
            get_logger().warning("could not read the last model list", extra={"upstream": key})
            return []
        entries = _entries(row[0]) if row else []
        if row:
            self._known[key] = entries
        return entries


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = msgspec.json.decode(value)
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []
