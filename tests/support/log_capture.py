"""Everything logged during the test run, and every secret the tests were handed, for the scan.

Auth tests register each password, token and API key they create (``remember``); the log-scan
test and the session teardown check that none of them was ever written to a log record.
"""

from __future__ import annotations

import json
import logging
import threading

_ISSUED: set[str] = set()
_lock = threading.Lock()


def remember(secret: str) -> str:
    # Very short strings would match by accident; the tests' secrets are all long.
    if len(secret) >= 8:
        with _lock:
            _ISSUED.add(secret)
    return secret


def issued_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_ISSUED)


class CapturingHandler(logging.Handler):
    """Keeps each record as text: message, arguments, extras and any traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []
        self._plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        # Powertools adds a filter to every root handler that drops its own service's records
        # (they are printed by its own handler); the scan must see those records most of all.
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = json.dumps(record.__dict__, default=repr, ensure_ascii=False)
            text = f"{self._plain.format(record)}\n{fields}"
        except Exception as exc:  # a record we cannot render is itself worth failing on
            text = f"unrenderable record: {exc!r}"
        with _lock:
            self.records.append(text)

    def snapshot(self) -> list[str]:
        with _lock:
            return list(self.records)


def leaks(records: list[str], secrets: frozenset[str]) -> list[tuple[str, str]]:
    """(secret prefix, record excerpt) for every secret found in a record."""
    found = []
    for record in records:
        for secret in secrets:
            if secret in record:
                at = record.index(secret)
                found.append((secret[:6] + "…", record[max(0, at - 80) : at]))
    return found
