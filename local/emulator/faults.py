"""Fault settings and how they are parsed from JSON, CLI flags and the per-request header.

A "break" fault (reset, stall, error, bad JSON) fires once `k` content chunks have been sent
and more output is still due: with a 5-token reply, `reset_after=5` drops the connection just
before the final `done` line, and `reset_after=6` never fires.

The hostile-upstream faults change what a stream carries rather than how it ends:
`huge_chunk_after=k` adds one content line of `HUGE_CHUNK_BYTES` after k chunks,
`unknown_fields` puts unknown fields into every chunk, and `endless` never sends the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FAULT_HEADER = "x-emulator-fault"

BreakKind = Literal["reset", "stall", "error", "bad_json"]

# When two breaks share a threshold the harsher one wins: a dropped connection hides the rest.
_BREAK_FIELDS: tuple[tuple[BreakKind, str], ...] = (
    ("reset", "reset_after"),
    ("stall", "stall_after"),
    ("error", "error_after"),
    ("bad_json", "bad_json_after"),
)
_MAX_TOKEN_DELAY = 60.0
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_FLAGS = frozenset({"unknown_fields", "endless", "echo_grounded"})
# Far over the 1 MiB line cap a gateway should enforce.
HUGE_CHUNK_BYTES = 2 * 1024 * 1024
# What `unknown_fields` adds at every level of every chunk: a relay must drop it.
UNKNOWN_FIELD = "evil"
UNKNOWN_VALUE = "<script>alert('emulated')</script>"


@dataclass(frozen=True)
class Faults:
    token_delay: float = 0.0
    reset_after: int | None = None
    error_after: int | None = None
    stall_after: int | None = None
    bad_json_after: int | None = None
    fail_status: int | None = None
    require_api_key: str | None = None
    huge_chunk_after: int | None = None
    unknown_fields: bool = False
    endless: bool = False
    # Not a fault: answer a grounded prompt by echoing it ("You said: ..."), as before the
    # emulator quoted sources, for tests that read back what the model was sent.
    echo_grounded: bool = False

    def with_changes(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; a `None` value clears a setting.

        Raises ValueError naming the offending key.
        """
        unknown = sorted(set(changes) - _FIELD_NAMES)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        coerced = {name: _coerce(name, value) for name, value in changes.items()}
        return dataclasses.replace(self, **coerced)

    def first_break(self) -> tuple[BreakKind, int] | None:
        candidates = [
            (threshold, rank, kind)
            for rank, (kind, field) in enumerate(_BREAK_FIELDS)
            if (threshold := getattr(self, field)) is not None
        ]
        if not candidates:
            return None
        threshold, _, kind = min(candidates)
        return kind, threshold

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELD_NAMES = frozenset(field.name for field in dataclasses.fields(Faults))


def parse_fault_header(value: str) -> dict[str, Any]:
    """Parse `x-emulator-fault: reset_after=3, token_delay=0.01` (`;` also separates).

    Values stay strings; `Faults.with_changes` coerces them. `key=` clears a setting.
    """
    changes: dict[str, Any] = {}
    for item in value.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"expected key=value in {FAULT_HEADER} header, got {item!r}")
        raw = raw.strip()
        changes[key.strip()] = raw or None
    return changes


def _coerce(name: str, value: Any) -> Any:
    if name in _FLAGS:
        return _flag(name, value)
    if value is None:
        return 0.0 if name == "token_delay" else None
    if name == "token_delay":
        delay = _number(name, value, float)
        if not 0.0 <= delay <= _MAX_TOKEN_DELAY:
            raise ValueError(f"token_delay must be between 0 and {_MAX_TOKEN_DELAY} seconds")
        return delay
    if name == "require_api_key":
        if not isinstance(value, str) or not value:
            raise ValueError("require_api_key must be a non-empty string")
        return value
    count = int(_number(name, value, int))
    if name == "fail_status":
        if not 400 <= count <= 599:
            raise ValueError("fail_status must be an HTTP error status (400-599)")
    elif count < 0:
        raise ValueError(f"{name} must be >= 0")
    return count


def _flag(name: str, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ValueError(f"{name} must be true or false")


def _number(name: str, value: Any, kind: type[int] | type[float]) -> float:
    # bool is an int subclass, and `true` is never a sensible count or delay.
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind is float or isinstance(value, int):
            return value
    elif isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    raise ValueError(f"{name} must be {'an integer' if kind is int else 'a number'}")
