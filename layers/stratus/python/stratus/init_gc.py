"""The garbage collector during a function's init: off while init builds, then out of its way.

Init allocates hundreds of thousands of objects and frees almost none, so the collections those
allocations trigger are wasted work: about 200 of them in auth's init, about 100 ms of it
(measured). Init runs with the collector off. At its end, what init built is frozen out of the
collector's reach, since it lives as long as the process: otherwise the first request's
allocations trigger a full collection that walks all of it (about 100 ms in chat, measured),
and every later collection walks it again. Then the collector is on again.

Standard library only: the handler imports this before anything else.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def begin() -> None:
    gc.disable()


def end() -> None:
    gc.freeze()
    gc.enable()


@contextmanager
def phase() -> Iterator[None]:
    """A Mangum handler module's init; an init that fails leaves the collector on."""
    begin()
    try:
        yield
    except BaseException:
        gc.enable()
        raise
    end()
