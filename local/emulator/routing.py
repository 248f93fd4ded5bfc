"""Route table, the per-request context handed to handlers, and what handlers return.

Handlers never write to the socket: they return a reply description and the ASGI layer
(asgi.py, delivery.py) turns it into bytes, which is where faults get injected.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from local.emulator.faults import Faults
from local.emulator.wire import JSON_MEDIA_TYPE, Dialect, dumps

if TYPE_CHECKING:
    from local.emulator.state import EmulatorState


class HttpError(Exception):
    """Answer with `status` and an error body in the flavour of the API that was called."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    media_type: str = JSON_MEDIA_TYPE


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, dumps(payload))


@dataclass
class StreamReply:
    """A token stream: one frame per content token, then the closing frame(s)."""

    dialect: Dialect
    frames: Iterator[bytes]
    # Called after the last content frame, so final durations and counts are real.
    tail: Callable[[], list[bytes]]
    # A content frame carrying any text: what the huge-chunk and endless faults send.
    filler: Callable[[str], bytes] | None = None


@dataclass
class WholeReply:
    """A non-streamed generation of `units` tokens; faults apply as if it were streamed."""

    dialect: Dialect
    units: int
    render: Callable[[], Mapping[str, Any]]


AnyReply = Reply | StreamReply | WholeReply


@dataclass
class RequestContext:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    state: EmulatorState
    faults: Faults
    params: dict[str, str] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.perf_counter_ns)

    def json_object(self) -> dict[str, Any]:
        if not self.body.strip():
            raise HttpError(400, "missing request body")
        try:
            payload = json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"invalid JSON body: {exc}") from None
        if not isinstance(payload, dict):
            raise HttpError(400, "request body must be a JSON object")
        return payload


Handler = Callable[[RequestContext], Awaitable[AnyReply]]


# "model" routes run a model (fail_status applies); "management" routes are counted apart;
# "control" routes are the emulator's own and bypass auth, faults and stats.
RouteKind = Literal["info", "model", "management", "control"]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    template: str
    handler: Handler
    kind: RouteKind = "info"

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.template)


def route(methods: str, template: str, handler: Handler, *, kind: RouteKind = "info") -> Route:
    return Route(frozenset(methods.split()), template, handler, kind)


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._routes = [(r, r.pattern) for r in routes]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for candidate, pattern in self._routes:
            found = pattern.fullmatch(path)
            if found and method in candidate.methods:
                return candidate, found.groupdict()
        return None


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(regex)
