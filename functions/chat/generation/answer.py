"""The base of the ASGI responses the chat routes return: Litestar passes them through as-is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar.types import Receive, Scope, Send


class Answer:
    """An ASGI app that writes a whole answer itself (streamed or not)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
