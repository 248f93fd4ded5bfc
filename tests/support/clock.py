"""A clock tests move by hand, for code that takes ``clock: Callable[[], float]``."""

from __future__ import annotations

import time


class FakeClock:
    """Starts at the real time (whole seconds), so DynamoDB's TTL values stay sane."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(time.time())) if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
