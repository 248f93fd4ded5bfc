"""Brute-force limits on sign-in, password change and sign-up, as sliding windows in DynamoDB.

Every password check first reserves one failure on three counters at once: the account from this
client IP, the account from any IP, and this IP for any account. Only when all three allow it may
the caller look the user up and compute a hash; a wrong password keeps the reservation, a right
one gives it back. So however many guesses race, at most the limit of them is ever evaluated.

Keys: the account's counters share one partition (its hashed email), one item per hashed client
IP plus one for all IPs, so an administrator's unlock clears them all with one query. Emails and
IPs are hashed before they become keys. If the store cannot answer (down or throttled), callers
get ``ServiceUnavailableError``: the limiter fails closed.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from dataclasses import dataclass

from stratus.errors import RateLimitedError
from stratus.limits import Counter, Decision, SlidingWindow
from stratus.settings import AuthSettings

_ALL_IPS = "all"


@dataclass(frozen=True, slots=True)
class Limits:
    per_account_ip: int
    per_account: int
    per_ip: int
    signups_per_ip: int
    window: int

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Limits:
        return cls(
            settings.login_max_failures,
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_ip,
            settings.signup_max_per_ip,
            settings.login_window,
        )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def address_key(ip: str) -> str:
    """The part of an address one client controls: IPv6 clients usually hold a whole /64."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def account_partition(email: str) -> str:
    return f"auth#account#{_digest(email.lower())}"


@dataclass(frozen=True, slots=True)
class Attempt:
    """Reservations held by one password check until its outcome is known."""

    held: tuple[tuple[Counter, Decision], ...]

    @property
    def account_ip(self) -> Counter:
        return self.held[0][0]


class LoginLimiter:
    def __init__(self, window: SlidingWindow, limits: Limits) -> None:
        self._window = window
        self._limits = limits

    def signin_counters(self, email: str, ip: str) -> list[tuple[Counter, int]]:
        """The counters a password check reserves on, each with its limit: the account from
        this address, the account from any address, and this address for any account."""
        account, address = account_partition(email), _digest(address_key(ip))
        return [
            (Counter(account, f"ip#{address}"), self._limits.per_account_ip),
            (Counter(account, _ALL_IPS), self._limits.per_account),
            (Counter(f"auth#ip#{address}", "failures"), self._limits.per_ip),
        ]

    async def reserve(self, email: str, ip: str) -> Attempt:
        """Reserve one failed attempt before any lookup or hash; 429 if a counter is full."""
        counters = self.signin_counters(email, ip)
        # gather, not a task group: the store's own error must reach the mapper unwrapped.
        decisions = await asyncio.gather(
            *(
                self._window.reserve(counter, limit=limit, window_seconds=self._limits.window)
                for counter, limit in counters
            )
        )
        if all(decision.allowed for decision in decisions):
            return Attempt(tuple(zip((c for c, _ in counters), decisions, strict=True)))
        # Refused counters gave their attempt back already; the others must too, so a refused
        # guess never counts against the account or the address.
        await asyncio.gather(
            *(
                self._window.release(counter, decision)
                for (counter, _), decision in zip(counters, decisions, strict=True)
                if decision.allowed
            )
        )
        raise RateLimitedError(
            "Too many failed sign-in attempts; try again later.",
            retry_after=max(d.retry_after for d in decisions if not d.allowed),
        )

    async def succeeded(self, attempt: Attempt) -> None:
        """The right password: this account starts over from this address; the rest get the
        reservation back (a success is not a failure, nor a reason to forget other failures)."""
        await asyncio.gather(
            self._window.clear(attempt.account_ip),
            *(self._window.release(counter, decision) for counter, decision in attempt.held[1:]),
        )

    async def unlock(self, email: str) -> int:
        """Forget the account's failures from every address; per-IP counters stay."""
        return await self._window.clear_partition(account_partition(email))

    async def check_signup(self, ip: str) -> None:
        """Counts every sign-up attempt from an IP; ``signups_per_ip`` 0 turns this off."""
        if self._limits.signups_per_ip == 0:
            return
        counter = Counter(f"auth#ip#{_digest(address_key(ip))}", "signups")
        decision = await self._window.reserve(
            counter, limit=self._limits.signups_per_ip, window_seconds=self._limits.window
        )
        if not decision.allowed:
            raise RateLimitedError(
                "Too many sign-ups from this address; try again later.",
                retry_after=decision.retry_after,
            )
