"""CloudWatch metrics in Embedded Metric Format: written to stdout, no API calls on the hot path."""

from __future__ import annotations

import functools
import os

from aws_lambda_powertools import Metrics


@functools.cache
def get_metrics() -> Metrics:
    return Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Stratus"))
