"""Logging and metrics through aws-lambda-powertools: JSON to stdout, EMF metrics."""

from stratus.observability.logging import get_logger
from stratus.observability.metrics import get_metrics

__all__ = ["get_logger", "get_metrics"]
