"""S3 object-created events: which of our objects they announce.

S3 delivers a notification at least once, sometimes twice; the ingestion it starts is idempotent,
so this module only reads keys. Keys arrive URL-encoded (a space as ``+``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus


def created_keys(event: Mapping[str, Any], bucket: str | None, prefix: str) -> list[str]:
    """Our storage keys for the objects created in ``bucket`` under ``prefix``, in order."""
    keys: list[str] = []
    full_prefix = f"{prefix}/" if prefix else ""
    for record in event.get("Records") or ():
        if not isinstance(record, Mapping):
            continue
        if record.get("eventSource") != "aws:s3":
            continue
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        if bucket and (s3.get("bucket") or {}).get("name") != bucket:
            continue
        key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
        if not key.startswith(full_prefix):
            continue
        ours = key[len(full_prefix) :]
        if ours.startswith("files/") and ours not in keys:
            keys.append(ours)
    return keys
