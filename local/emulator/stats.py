"""Thread-safe counters of what reached the emulator.

The server runs on its own thread (see testing.py) while tests read these from theirs, so
every access goes through one lock, and `wait_for` lets a test block until a count settles
(e.g. the server noticing a client hang-up) instead of sleeping.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

StreamOutcome = Literal["completed", "abandoned", "faulted"]

# The request bodies worth keeping: those carrying what the user's prompt became upstream.
BODY_ROUTES = frozenset(
    {
        "/api/chat",
        "/api/generate",
        "/api/embed",
        "/api/embeddings",
        "/v1/chat/completions",
        "/v1/embeddings",
    }
)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    host: str | None
    has_authorization: bool


class EmulatorStats:
    def __init__(self, history_limit: int = 50) -> None:
        self._history_limit = history_limit
        self._changed = threading.Condition()
        self._requests: Counter[str] = Counter()
        self._management: Counter[str] = Counter()
        self._streams: Counter[str] = Counter()
        self._recent: deque[RequestRecord] = deque(maxlen=history_limit)
        self._bodies: dict[str, deque[Any]] = {}
        self._images = 0
        # When a model was last asked for anything (monotonic): what the supervisor's idle
        # timer reads (local/model_host_supervisor.py).
        self._last_inference = time.monotonic()

    # Recording, called by the server.

    def record_request(self, route: str, record: RequestRecord, *, management: bool) -> None:
        with self._changed:
            self._requests[route] += 1
            if route.partition(" ")[2] in BODY_ROUTES:
                self._last_inference = time.monotonic()
            if management:
                self._management[route] += 1
            self._recent.append(record)
            self._changed.notify_all()

    def record_body(self, route: str, body: Any) -> None:
        with self._changed:
            bodies = self._bodies.setdefault(route, deque(maxlen=self._history_limit))
            bodies.append(copy.deepcopy(body))
            self._changed.notify_all()

    def record_images(self, count: int) -> None:
        if count:
            with self._changed:
                self._images += count
                self._changed.notify_all()

    def stream_started(self) -> None:
        self._bump_stream("started")

    def stream_ended(self, outcome: StreamOutcome) -> None:
        self._bump_stream(outcome)

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()
            self._management.clear()
            self._streams.clear()
            self._recent.clear()
            self._bodies.clear()
            self._images = 0
            self._changed.notify_all()

    # Reading, called by tests (any thread).

    def requests(self, route: str) -> int:
        """Requests that reached `route`, keyed like "POST /api/chat"."""
        with self._changed:
            return self._requests[route]

    @property
    def request_counts(self) -> dict[str, int]:
        with self._changed:
            return dict(self._requests)

    @property
    def management_calls(self) -> int:
        with self._changed:
            return sum(self._management.values())

    @property
    def management_counts(self) -> dict[str, int]:
        with self._changed:
            return dict(self._management)

    @property
    def streams_started(self) -> int:
        return self._stream_count("started")

    @property
    def streams_completed(self) -> int:
        return self._stream_count("completed")

    @property
    def streams_abandoned(self) -> int:
        """Streams whose client went away before the stream ended."""
        return self._stream_count("abandoned")

    @property
    def streams_faulted(self) -> int:
        """Streams cut short by an injected fault (reset, stall giving up, error, bad JSON)."""
        return self._stream_count("faulted")

    @property
    def images_seen(self) -> int:
        """Images that arrived on chat requests (Ollama `images`, or `/v1` image parts)."""
        with self._changed:
            return self._images

    @property
    def seconds_since_inference(self) -> float:
        with self._changed:
            return time.monotonic() - self._last_inference

    @property
    def recent_requests(self) -> list[RequestRecord]:
        with self._changed:
            return list(self._recent)

    @property
    def last_request(self) -> RequestRecord | None:
        with self._changed:
            return self._recent[-1] if self._recent else None

    def bodies(self, route: str) -> list[Any]:
        """Recent JSON bodies sent to `route` (a path such as "/api/chat"), oldest first."""
        with self._changed:
            return copy.deepcopy(list(self._bodies.get(route, ())))

    def last_body(self, route: str) -> Any:
        bodies = self.bodies(route)
        if not bodies:
            raise LookupError(f"no request body recorded for {route}")
        return bodies[-1]

    def wait_for(self, predicate: Callable[[EmulatorStats], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate(self)` holds or `timeout` passes; return whether it held."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def snapshot(self) -> dict[str, Any]:
        with self._changed:
            return {
                "requests": dict(self._requests),
                "management_calls": sum(self._management.values()),
                "management": dict(self._management),
                "streams": {
                    "started": self._streams["started"],
                    "completed": self._streams["completed"],
                    "abandoned": self._streams["abandoned"],
                    "faulted": self._streams["faulted"],
                },
                "images_seen": self._images,
                "recent_requests": [asdict(record) for record in self._recent],
                "bodies": {
                    route: copy.deepcopy(list(bodies)) for route, bodies in self._bodies.items()
                },
            }

    def _bump_stream(self, key: str) -> None:
        with self._changed:
            self._streams[key] += 1
            self._changed.notify_all()

    def _stream_count(self, key: str) -> int:
        with self._changed:
            return self._streams[key]
