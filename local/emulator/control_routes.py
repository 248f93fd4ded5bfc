"""The emulator's own endpoints (/_emulator/*): faults and stats, for tests and demos.

They bypass authentication, faults and stats, so controlling the emulator never shows up
as traffic from the system under test.
"""

from __future__ import annotations

from typing import Any

from local.emulator.routing import HttpError, Reply, RequestContext, Route, json_reply, route


def control_routes() -> list[Route]:
    return [
        route("GET", "/_emulator/stats", stats, kind="control"),
        route("GET", "/_emulator/faults", get_faults, kind="control"),
        route("POST", "/_emulator/faults", set_faults, kind="control"),
        route("POST", "/_emulator/reset", reset, kind="control"),
    ]


async def stats(ctx: RequestContext) -> Reply:
    return json_reply(ctx.state.stats.snapshot())


async def get_faults(ctx: RequestContext) -> Reply:
    return json_reply(_faults_payload(ctx))


async def set_faults(ctx: RequestContext) -> Reply:
    """Merge the posted settings into the current faults; `null` clears one."""
    changes = ctx.json_object()
    try:
        ctx.state.update_faults(changes)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return json_reply(_faults_payload(ctx))


async def reset(ctx: RequestContext) -> Reply:
    """Back to the configured faults, with stats cleared and no model loaded."""
    ctx.state.reset()
    return json_reply(_faults_payload(ctx))


def _faults_payload(ctx: RequestContext) -> dict[str, Any]:
    return {"faults": ctx.state.faults.to_dict()}
