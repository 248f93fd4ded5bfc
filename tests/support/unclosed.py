"""Fail the test run if any aiohttp client session was left unclosed.

A session left open when its event loop ends is reported by aiohttp only when it is garbage
collected ("Unclosed client session", through asyncio's logger), often after the run's summary,
where nobody reads it. This plugin records those reports during the run, collects garbage at
the end, counts sessions still open, and turns either into a failed run naming them.
"""

from __future__ import annotations

import gc
import logging
import sys

import pytest

_MESSAGES = ("Unclosed client session", "Unclosed connector")


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(_MESSAGES):
            self.found.append(message)


_recorder = _Recorder()


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger("asyncio").addHandler(_recorder)


def open_sessions() -> list[object]:
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is None:
        return []
    return [o for o in gc.get_objects() if isinstance(o, aiohttp.ClientSession) and not o.closed]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A function's init freezes what it built out of the collector's reach (stratus.init_gc),
    # and frozen objects are invisible to gc.get_objects(): bring them back first.
    gc.unfreeze()
    gc.collect()
    still_open = open_sessions()
    logging.getLogger("asyncio").removeHandler(_recorder)
    if not (_recorder.found or still_open):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        f"{len(_recorder.found)} aiohttp session(s) reported unclosed, "
        f"{len(still_open)} still open at the end of the run:",
        *_recorder.found[:20],
        *(repr(s) for s in still_open[:20]),
    ]
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line("\n".join(lines), red=True)
    if session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
