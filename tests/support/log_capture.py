"""Everything logged during the test run, and every secret the tests were handed, for the scan.

Two scans, because each misses what the other finds. Auth tests register each password, token and
API key they create (``remember``), and no record may contain one of them: that catches passwords,
which have no shape. And every record is matched against the shapes of credentials (JWTs, API
keys, argon2 hashes, bearer headers), which catches secrets no test remembered: ones issued inside
the code under test, or by a test that forgot to register them. The log-scan test and the session
teardown run both.
"""

from __future__ import annotations

import json
import logging
import re
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


# The shapes of every credential Stratus issues or stores (security matrix row 31).
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    # Three base64url segments; a JSON header always encodes to "eyJ". The signature may be empty
    # (alg "none" forgeries are still tokens someone sent).
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    # stratus.auth.api_keys: "sk-" and 48 lower-case hex digits. Longer runs (a key with junk
    # appended) match too, since the pattern is not anchored at its end.
    "API key": re.compile(r"(?<![A-Za-z0-9])sk-[0-9a-f]{48}"),
    # A PHC string with its salt: the parameters alone (say, in a settings log) are no secret.
    "argon2 hash": re.compile(r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{8,}"),
    "bearer header": re.compile(r"\bbearer\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
}


def redact(text: str) -> str:
    for kind, pattern in SECRET_PATTERNS.items():
        text = pattern.sub(f"[{kind}]", text)
    return text


def pattern_leaks(records: list[str]) -> list[tuple[str, str]]:
    """(kind, redacted excerpt of the record) for each kind of credential a record contains.

    The excerpt has every credential-shaped string replaced by its kind, so a failing test points
    at the leaking record without repeating the secret.
    """
    found: list[tuple[str, str]] = []
    for record in records:
        kinds = [kind for kind, pattern in SECRET_PATTERNS.items() if pattern.search(record)]
        found.extend((kind, redact(record)[:240]) for kind in kinds)
    return found
