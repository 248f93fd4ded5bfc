"""One structured log line and one metrics record per generation; never any message text.

Metrics (CloudWatch EMF, dimension ``model``): ``TimeToFirstToken`` (ms), ``TokensPerSecond``,
``Completions``, ``Stops``, ``UpstreamErrors``, ``Interrupted``. ``LimitHits`` is counted where
a request is refused (``limit_hit``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from functions.chat.generation.outcome import Ending, Outcome
from functions.chat.generation.relay import ChunkTranslator, GenerationContext
from stratus.observability import get_logger

_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Stratus")
_ENDING_METRIC = {
    Ending.COMPLETE: "Completions",
    Ending.CANCELLED: "Stops",
    Ending.ERROR: "UpstreamErrors",
    Ending.INTERRUPTED: "Interrupted",
}


def _metrics(model: str) -> EphemeralMetrics:
    metrics = EphemeralMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", _NAMESPACE))
    metrics.add_dimension(name="model", value=model[:250] or "unknown")
    return metrics


def report_generation(
    ctx: GenerationContext, translator: ChunkTranslator, outcome: Outcome, ttft: float | None
) -> None:
    duration = time.perf_counter() - ctx.started
    usage = translator.usage()
    completion_tokens = usage.get("completion_tokens", 0)
    metrics = _metrics(ctx.model)
    metrics.add_metric(name=_ENDING_METRIC[outcome.ending], unit=MetricUnit.Count, value=1)
    if ttft is not None:
        metrics.add_metric(name="TimeToFirstToken", unit=MetricUnit.Milliseconds, value=ttft * 1000)
        streaming_time = duration - ttft
        if completion_tokens and streaming_time > 0:
            metrics.add_metric(
                name="TokensPerSecond",
                unit=MetricUnit.CountPerSecond,
                value=completion_tokens / streaming_time,
            )
    metrics.flush_metrics()
    fields: dict[str, Any] = {
        "task_id": ctx.task_id,
        "chat_id": ctx.turn.chat_id if ctx.turn else None,
        "model": ctx.model,
        "status": outcome.ending.value,
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": completion_tokens,
        "usage_estimated": translator.usage_estimated,
        "ttft_ms": round(ttft * 1000, 1) if ttft is not None else None,
        "duration_ms": round(duration * 1000, 1),
    }
    if outcome.error_code:
        fields["error_code"] = outcome.error_code
    get_logger().info("generation", extra=fields)


def limit_hit(model: str, reason: str) -> None:
    metrics = _metrics(model)
    metrics.add_dimension(name="limit", value=reason)
    metrics.add_metric(name="LimitHits", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
