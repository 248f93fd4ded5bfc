"""API keys: ``sk-`` plus 48 hex digits (192 random bits). Only a SHA-256 and a display prefix
are stored.

A plain hash is enough here, unlike passwords: the key has far more entropy than any guessing
attack can cover, and a fast hash keeps per-request authentication cheap.
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "sk-"
_RANDOM_BYTES = 24
_SHAPE = re.compile(r"sk-[0-9a-f]{48}")
# What listings show: enough to tell keys apart, far too little to guess the rest.
DISPLAY_LENGTH = len(PREFIX) + 8


def generate() -> str:
    return PREFIX + secrets.token_hex(_RANDOM_BYTES)


def is_well_formed(candidate: str) -> bool:
    """A cheap shape check, so malformed input never reaches SQL at all."""
    return len(candidate) == len(PREFIX) + 2 * _RANDOM_BYTES and bool(_SHAPE.fullmatch(candidate))


def looks_like_key(credential: str) -> bool:
    """Anything starting with the key prefix is treated as a key, well formed or not."""
    return credential.startswith(PREFIX)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_LENGTH]
