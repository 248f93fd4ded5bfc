"""Expensive clients built lazily, once per event loop, and reused across warm invocations.

Async pools and HTTP clients belong to the event loop that created them. In Lambda there is one
loop per execution environment (Mangum reuses it), so this is "once per process". The local
stack's Lambda mode runs each function's handler on its own loop, like separate environments.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    def __init__(self, build: Callable[[], Awaitable[T]]) -> None:
        self._build = build
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> T:
        loop = asyncio.get_running_loop()
        value = self._values.get(loop)
        if value is not None:
            return value
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            value = self._values.get(loop)
            if value is None:
                value = await self._build()
                self._values[loop] = value
            return value

    def current(self) -> T | None:
        """The value for the running loop, if built: shutdown hooks close only what exists."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return self._values.get(loop)

    def built_for(self, loop: asyncio.AbstractEventLoop) -> T | None:
        """The value built on ``loop``, if any: lets tests prove warm calls reuse it."""
        return self._values.get(loop)

    def forget(self) -> None:
        try:
            self._values.pop(asyncio.get_running_loop(), None)
        except RuntimeError:
            return
