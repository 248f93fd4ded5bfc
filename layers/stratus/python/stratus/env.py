"""Typed reads of environment variables, with errors that name the variable but never its value."""

from __future__ import annotations

from collections.abc import Mapping

from stratus.errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvReader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return value.strip() if value is not None else None

    def text(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None or value == "" else value

    def optional(self, name: str) -> str | None:
        return self.raw(name) or None

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false")

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        value = self.raw(name)
        if not value:
            return default
        try:
            parsed = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number") from None
        if minimum is not None and parsed < minimum:
            raise ConfigError(f"{name} must be at least {minimum}")
        return parsed

    def number(
        self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
    ) -> float:
        value = self.raw(name)
        if not value:
            return default
        try:
            parsed = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number") from None
        if parsed < minimum:
            raise ConfigError(f"{name} must be at least {minimum}")
        if maximum is not None and parsed > maximum:
            raise ConfigError(f"{name} must be at most {maximum}")
        return parsed

    def items(
        self, name: str, default: tuple[str, ...] = (), *, separators: str = ";"
    ) -> tuple[str, ...]:
        """Semicolon-separated by default, as Open WebUI reads ``OLLAMA_BASE_URLS`` and friends."""
        value = self.raw(name)
        if value is None:
            return default
        for extra in separators[1:]:
            value = value.replace(extra, separators[0])
        return tuple(part.strip() for part in value.split(separators[0]) if part.strip())

    def first_set(self, *names: str) -> str | None:
        for name in names:
            value = self.optional(name)
            if value:
                return value
        return None
