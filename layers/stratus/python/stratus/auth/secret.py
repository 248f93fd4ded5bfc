"""The JWT signing key: from ``WEBUI_SECRET_KEY``, or from Secrets Manager in AWS.

Outside ``STRATUS_DEV_MODE`` a missing, well-known or short key stops the process with a
``ConfigError`` that names the problem but never echoes the value. The local stack generates a
key on first start and keeps it in its data directory (``local/secret_key.py``).
"""

from __future__ import annotations

import functools
import secrets

from stratus.errors import ConfigError
from stratus.settings import AuthSettings

MIN_LENGTH = 32
# Defaults shipped in Open WebUI, its docs and common templates, compared case-insensitively.
KNOWN_DEFAULTS = frozenset(
    {
        "t0p-s3cr3t",
        "secret",
        "secret-key",
        "your-secret-key",
        "changeme",
        "change-me",
        "change_me",
        "please-change-me",
        "your_secret_key_here",
        "webui_secret_key",
    }
)


def require_signing_key() -> None:
    """Fail start-up, not the first request, when the signing secret is unusable.

    Every function verifies tokens through the shared guard, so every entry point calls this.
    """
    from stratus.settings import auth_settings

    signing_key(auth_settings())


def signing_key(settings: AuthSettings) -> str:
    """The validated key. Cached per settings value, so Secrets Manager is read once per process."""
    return _signing_key(settings)


@functools.cache
def _signing_key(settings: AuthSettings) -> str:
    source = "STRATUS_SECRET_KEY_ARN" if settings.secret_key_arn else "WEBUI_SECRET_KEY"
    key = _fetch(settings.secret_key_arn) if settings.secret_key_arn else settings.secret_key
    problem = weakness(key)
    if problem is None:
        return key or ""
    if not settings.dev_mode:
        raise ConfigError(
            f"{source}: the signing secret is {problem}. Set a random value of at least "
            f"{MIN_LENGTH} characters (for example `openssl rand -hex 32`); weak secrets are "
            "allowed only with STRATUS_DEV_MODE=true"
        )
    # Dev mode without a key: a throwaway one, so sessions end when the process does.
    return key or secrets.token_urlsafe(48)


def weakness(key: str | None) -> str | None:
    """What is wrong with the key, in words that don't reveal it; None when it is acceptable."""
    if not key:
        return "missing"
    if key.strip().lower() in KNOWN_DEFAULTS:
        return "a published default"
    if len(key) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if len(set(key)) < 8:
        return "too repetitive"
    return None


def _fetch(secret_id: str) -> str:
    """Read at init (the entry points check the key before serving), over a client closed
    right after: no connection stays open in the process, nor in a SnapStart snapshot."""
    from stratus.runtime_secrets import read_secret

    return read_secret("STRATUS_SECRET_KEY_ARN", secret_id)


def reset_signing_key() -> None:
    _signing_key.cache_clear()
