"""How a generation ended, and what the client, the database and the metrics are told."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Ending(StrEnum):
    COMPLETE = "complete"  # the upstream said done
    CANCELLED = "cancelled"  # a stop (any instance), or a bare API client that went away
    ERROR = "error"  # the upstream broke, lied or stalled
    INTERRUPTED = "interrupted"  # our own time ran out (Lambda deadline, generation cap)


# What the final chunk says for endings the upstream did not report itself.
FINISH_REASON = {
    Ending.CANCELLED: "stop",
    # Cut short like max_tokens would: the answer is incomplete, and clients know "length".
    Ending.INTERRUPTED: "length",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    ending: Ending
    error: str | None = None
    error_code: str | None = None
