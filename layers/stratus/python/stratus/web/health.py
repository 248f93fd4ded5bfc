"""Liveness (``/healthz``, no I/O) and readiness (``/readyz``, every dependency by name).

Readiness runs the probes concurrently, each under a short timeout, and reports the state and
latency of each: ``ok``, ``down`` (it answered with an error) or ``timeout`` (no answer within
``STRATUS_READINESS_TIMEOUT``), or a state of the dependency's own (``DependencyState``: a model
host that sleeps is ``asleep`` or ``starting``). Any required dependency not ``ok`` gives 503;
the model host only makes the service "degraded", because sign-in and accounts still work
without it. ``/readyz`` is public, so the body never carries an exception's class or message:
those go to the log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import HttpMethod, MediaType, Response, route
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from stratus import __version__
from stratus.lifecycle import Resource
from stratus.observability import get_logger
from stratus.settings import web_settings
from stratus.web.access import Access, access


class DependencyState(Exception):  # a state a probe reports, not an error
    """A dependency that is neither ok nor failing, in its probe's own word: a model host that
    sleeps or is waking (scale-to-zero) is ``asleep`` or ``starting``."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


@dataclass(frozen=True, slots=True)
class ReadinessCheck:
    """A dependency a function declares: its probe, and the client or pool it uses, which the
    function builds at init and rebuilds after a SnapStart restore (``stratus.lifecycle``)."""

    name: str
    probe: Callable[[], Awaitable[None]]
    required: bool = True
    resource: Resource | None = None


async def _run(check: ReadinessCheck, budget_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check.probe(), budget_seconds)
        status = "ok"
    except DependencyState as exc:
        status = exc.state
    except TimeoutError:
        status = "timeout"
        get_logger().warning("readiness probe timed out", extra={"dependency": check.name})
    except Exception as exc:  # a probe reports any failure; it must never raise out of /readyz
        status = "down"
        # The operator's log gets what failed; the public body only gets the state.
        get_logger().warning(
            "readiness probe failed", extra={"dependency": check.name, "error": type(exc).__name__}
        )
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return {"status": status, "latency_ms": latency_ms, "required": check.required}


async def readiness(checks: Sequence[ReadinessCheck]) -> tuple[int, dict[str, Any]]:
    timeout = web_settings().readiness_timeout
    results = await asyncio.gather(*(_run(check, timeout) for check in checks))
    report = {check.name: result for check, result in zip(checks, results, strict=True)}
    failed_required = any(r["status"] != "ok" and r["required"] for r in report.values())
    degraded = any(r["status"] != "ok" for r in report.values())
    status = "fail" if failed_required else "degraded" if degraded else "ok"
    return (503 if failed_required else 200), {"status": status, "checks": report}


NOT_READY = "A required dependency is down; the same report names it."
# Load balancers and uptime monitors probe with HEAD. The answer is the GET's, headers and all
# (Content-Length included, as RFC 9110 wants); the server sends no body (uvicorn, API Gateway).
_GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]


def health_route_handlers(service: str, checks: Sequence[ReadinessCheck]) -> list[HTTPRouteHandler]:
    @route(
        "/healthz",
        http_method=_GET_AND_HEAD,
        opt=access(Access.PUBLIC),
        tags=["health"],
        sync_to_thread=False,
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service, "version": __version__}

    @route(
        "/readyz",
        http_method=_GET_AND_HEAD,
        opt=access(Access.PUBLIC),
        tags=["health"],
        responses={
            503: ResponseSpec(dict[str, Any], generate_examples=False, description=NOT_READY)
        },
    )
    async def readyz() -> Response[dict[str, Any]]:
        status_code, body = await readiness(checks)
        return Response(
            {**body, "service": service},
            status_code=status_code,
            media_type=MediaType.JSON,
            headers={"cache-control": "no-store"},
        )

    return [healthz, readyz]
