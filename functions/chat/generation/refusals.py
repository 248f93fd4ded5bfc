"""Refusals remembered by this process until their Retry-After passes.

Admission runs while the upstream request is being opened (it costs no time to first token),
so a refused request has already reached the model host when it is refused. Remembering the
refusal here means a client that keeps going past its limit reaches the GPU at most once per
``Retry-After`` per instance, not once per request. It is only a cache: losing it (a new
instance) costs one more refused request, never a wrong answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from stratus.errors import RateLimitedError

_MAX_REMEMBERED = 10_000


class RecentRefusals:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[str, tuple[float, str]] = {}

    def check(self, user_id: str) -> None:
        """Raise the remembered 429 if this user was refused and the wait is not over."""
        remembered = self._until.get(user_id)
        if remembered is None:
            return
        until, message = remembered
        left = until - self._clock()
        if left <= 0:
            del self._until[user_id]
            return
        raise RateLimitedError(message, retry_after=int(left) + 1)

    def remember(self, user_id: str, error: RateLimitedError) -> None:
        if len(self._until) >= _MAX_REMEMBERED:
            now = self._clock()
            self._until = {u: v for u, v in self._until.items() if v[0] > now}
            if len(self._until) >= _MAX_REMEMBERED:
                self._until.pop(next(iter(self._until)))
        self._until[user_id] = (self._clock() + error.retry_after, error.message)
