"""One powertools Logger per process, JSON by default, human-readable when asked.

Powertools loggers are shared by service name, so every module that calls ``get_logger()`` writes
through the same handler and carries the same correlation id.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from stratus.settings import web_settings

_BASE_KEYS = {"level", "location", "message", "timestamp", "service", "correlation_id"}


class HumanFormatter(LambdaPowertoolsFormatter):
    """One line per record for a terminal: time, level, correlation id, message, extras."""

    def serialize(self, log: Any) -> str:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in log.items() if k not in _BASE_KEYS)
        request = f" [{log['correlation_id']}]" if log.get("correlation_id") else ""
        return (
            f"{stamp} {log.get('level', ''):<7}{request} {log.get('message', '')} {extras}".rstrip()
        )


def service_name() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME", "stratus")


@functools.cache
def get_logger() -> Logger:
    settings = web_settings()
    formatter = HumanFormatter() if settings.human_logs else None
    return Logger(service=service_name(), level=settings.log_level, logger_formatter=formatter)
