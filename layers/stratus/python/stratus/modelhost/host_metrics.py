"""The model host's own metrics (CloudWatch EMF), with the ``service`` dimension only.

``ModelHostRequests`` counts every inference request sent to the host (completions, ``/ollama``
inference, embeddings, rag's embeddings): the GPU's idle alarm watches its absence, summed
over the functions, so it must not be split by model. ``ModelHostWakes``,
``ModelHostWakeSeconds`` and ``HeldRequests`` describe scale-to-zero (``waker.py``).
"""

from __future__ import annotations

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric


def record(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Stratus"),
        default_dimensions={"service": os.environ.get("POWERTOOLS_SERVICE_NAME", "stratus")},
    ):
        pass


def inference_request() -> None:
    record("ModelHostRequests")
