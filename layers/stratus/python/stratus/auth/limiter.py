"""Brute-force limits on sign-in and sign-up, as fixed-window counters in the ephemeral table.

Keys: failures per (account, client IP) and per client IP; sign-ups per client IP. Emails are
hashed before they become keys, so the table holds no addresses. Counts are read before any
password hash is computed. If the store cannot answer, callers get ``ServiceUnavailableError``:
the limiter fails closed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from stratus.ephemeral import EphemeralStore
from stratus.errors import RateLimitedError
from stratus.settings import AuthSettings


@dataclass(frozen=True, slots=True)
class Limits:
    per_account_ip: int
    per_ip: int
    signups_per_ip: int
    window: int

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Limits:
        return cls(
            settings.login_max_failures,
            settings.login_max_failures_per_ip,
            settings.signup_max_per_ip,
            settings.login_window,
        )


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"auth#{kind}#{digest[:40]}"


class LoginLimiter:
    def __init__(
        self, store: EphemeralStore, limits: Limits, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._limits = limits
        self._clock = clock

    def _window(self) -> tuple[str, int]:
        """The current window's sort key and the seconds until it ends."""
        now = int(self._clock())
        start = now - now % self._limits.window
        return f"w#{start}", start + self._limits.window - now

    def _counters(self, email: str, ip: str) -> list[tuple[str, int]]:
        return [
            (_key("fail-account-ip", email.lower(), ip), self._limits.per_account_ip),
            (_key("fail-ip", ip), self._limits.per_ip),
        ]

    async def check_signin(self, email: str, ip: str) -> None:
        """Raise ``RateLimitedError`` when either counter is at its limit. Costs two reads."""
        window, retry_after = self._window()
        counters = self._counters(email, ip)
        # gather, not a task group: the store's own error must reach the mapper unwrapped.
        entries = await asyncio.gather(*(self._store.get(pk, window) for pk, _ in counters))
        counts = [(entry.count or 0) if entry else 0 for entry in entries]
        if any(count >= limit for count, (_, limit) in zip(counts, counters, strict=True)):
            raise RateLimitedError(
                "Too many failed sign-in attempts; try again later.", retry_after=retry_after
            )

    async def record_failure(self, email: str, ip: str) -> None:
        window, retry_after = self._window()
        for pk, _ in self._counters(email, ip):
            await self._store.increment(pk, window, ttl_seconds=retry_after + 60)

    async def record_success(self, email: str, ip: str) -> None:
        """The account's own counter starts over; the per-IP one does not."""
        window, _ = self._window()
        pk, _ = self._counters(email, ip)[0]
        await self._store.delete(pk, window)

    async def check_signup(self, ip: str) -> None:
        """Counts every sign-up attempt from an IP; ``signups_per_ip`` 0 turns this off."""
        if self._limits.signups_per_ip == 0:
            return
        window, retry_after = self._window()
        pk = _key("signup-ip", ip)
        count = await self._store.increment(pk, window, ttl_seconds=retry_after + 60)
        if count > self._limits.signups_per_ip:
            raise RateLimitedError(
                "Too many sign-ups from this address; try again later.", retry_after=retry_after
            )
