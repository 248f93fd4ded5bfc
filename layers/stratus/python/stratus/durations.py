"""Open WebUI's duration strings (``JWT_EXPIRES_IN``): ``90s``, ``30m``, ``24h``, ``7d``, ``4w``,
combined as ``1h30m``; ``-1`` (or ``0``) means "never expires"."""

from __future__ import annotations

import re

from stratus.errors import ConfigError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(name: str, text: str) -> int | None:
    """Whole seconds, or None for "never". Errors name the variable, not the value."""
    value = text.strip().lower()
    if value in {"-1", "0"}:
        return None
    if not value or _PART.sub("", value):
        raise ConfigError(f"{name} must be a duration such as 30m, 24h or 7d, or -1 for never")
    seconds = sum(float(n) * _SECONDS[unit] for n, unit in _PART.findall(value))
    if seconds < 1:
        raise ConfigError(f"{name} must be at least one second")
    return int(seconds)
