"""How every pynamodb model of the ephemeral table connects: one table, short timeouts."""

from __future__ import annotations

from typing import Any

from stratus.settings import AwsSettings


def table_meta(resolved: AwsSettings, *, retries: int = 2) -> type[Any]:
    class Meta:
        table_name = resolved.dynamodb_table
        region = resolved.region
        host = resolved.dynamodb_endpoint
        billing_mode = "PAY_PER_REQUEST"
        # Short timeouts and bounded retries: callers decide whether to fail open or closed.
        connect_timeout_seconds = 2
        read_timeout_seconds = 2
        max_retry_attempts = retries

    return Meta
