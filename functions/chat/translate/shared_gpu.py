"""What one user may ask of the shared GPU: the guard every Ollama body passes before it leaves.

On a shared host a single request can pin a model in GPU memory for good (``keep_alive: -1``
or ``"1000h"``), unload everyone's model (an empty prompt with ``keep_alive: 0``), reload it at
a huge context (``num_ctx: 131072``) or take the machine's threads and GPUs (``num_gpu``,
``main_gpu``, ``num_thread``...). For anyone but an admin (matrix row 34):

- the operator's per-model ``STRATUS_MODEL_KEEP_ALIVE`` / ``STRATUS_MODEL_NUM_CTX`` replace the
  client's values, as before;
- otherwise ``keep_alive`` is clamped to ``STRATUS_MAX_KEEP_ALIVE`` (30 minutes), and a zero or
  negative one is removed, so the host's default (Ollama's 5 minutes) applies;
- ``num_ctx`` is capped at ``STRATUS_MAX_NUM_CTX``;
- the load-time options that pick hardware or memory (``LOAD_OPTIONS``) are dropped.

Admins are the operators: their bodies pass as sent, apart from the operator's own settings.
Pure: no I/O. ``/v1`` bodies go through it too, though clients can't set these fields there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stratus.errors import ValidationError

# Ollama's load-time options other than num_ctx (api/types.go's Runner): they choose devices,
# threads and memory mapping for everyone sharing the host.
LOAD_OPTIONS = frozenset(
    {
        "num_gpu",
        "main_gpu",
        "num_thread",
        "num_batch",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mmap",
        "use_mlock",
        "numa",
        "use_numa",
        "embedding_only",
    }
)
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


@dataclass(frozen=True, slots=True)
class GpuLimits:
    max_keep_alive_seconds: int
    max_num_ctx: int


@dataclass(frozen=True, slots=True)
class OperatorChoice:
    """What the operator configured for this model (``STRATUS_MODEL_KEEP_ALIVE`` and
    ``STRATUS_MODEL_NUM_CTX``), if anything: it wins over the client, for everyone."""

    keep_alive: str | int | None = None
    num_ctx: int | None = None


def keep_alive_seconds(value: Any, field: str = "keep_alive") -> float:
    """Ollama's reading of ``keep_alive``: a number of seconds or a Go duration string."""
    if isinstance(value, bool):
        raise _invalid(field)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise _invalid(field)
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in ("-", "+") else text
    if _NUMBER.fullmatch(body):
        return sign * float(body)  # "0" and "-1" as strings: bare seconds, as in Ollama's docs
    if not body or _GO_PART.sub("", body):
        raise _invalid(field)
    return sign * sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_PART.findall(body))


def _invalid(field: str) -> ValidationError:
    return ValidationError(
        f"Invalid request: {field}: must be a number of seconds or a duration such as 5m.",
        param=field,
    )


def guard(
    body: dict[str, Any], *, admin: bool, limits: GpuLimits, operator: OperatorChoice
) -> dict[str, Any]:
    """``body`` as it may reach the shared GPU (a new dict; ``body`` is left alone)."""
    guarded = dict(body)
    if operator.keep_alive is not None:
        guarded["keep_alive"] = operator.keep_alive
    elif "keep_alive" in guarded and not admin:
        seconds = keep_alive_seconds(guarded["keep_alive"])
        if seconds <= 0:
            del guarded["keep_alive"]
        elif seconds > limits.max_keep_alive_seconds:
            guarded["keep_alive"] = limits.max_keep_alive_seconds
    options = guarded.get("options")
    options = dict(options) if isinstance(options, dict) else {}
    if not admin:
        for name in LOAD_OPTIONS.intersection(options):
            del options[name]
        ctx = options.get("num_ctx")
        if isinstance(ctx, int | float) and not isinstance(ctx, bool):
            options["num_ctx"] = min(int(ctx), limits.max_num_ctx)
        elif "num_ctx" in options:
            raise ValidationError(
                "Invalid request: options.num_ctx: must be a whole number of tokens.",
                param="options.num_ctx",
            )
    if operator.num_ctx is not None:
        options["num_ctx"] = operator.num_ctx
    if options:
        guarded["options"] = options
    else:
        guarded.pop("options", None)
    return guarded
