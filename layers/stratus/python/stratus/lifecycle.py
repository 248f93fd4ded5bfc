"""What a function builds at init, and what it builds again after a SnapStart restore.

Init (importing a Mangum handler; uvicorn's start-up under the Web Adapter) imports the drivers
and builds every client and pool the function uses without connecting, so SnapStart's snapshot
holds the work and no sockets. Connections open on first use. Every environment restored from one
snapshot starts from the same memory, so after a restore each resource is reset (its connections,
if any, closed and its client built again, unconnected) and the random generators are re-seeded.

The Python runtime calls the hooks registered with ``snapshot_restore_py`` (only the Lambda
runtime has that module); under the Web Adapter the adapter POSTs to the app instead
(``stratus.web.snapstart``).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import anyio.to_thread

from stratus.errors import ConfigError
from stratus.observability import get_logger


@dataclass(frozen=True, slots=True)
class Resource:
    """A process-wide client or pool. ``prepare`` builds it for the running loop without any
    network I/O; ``reset`` closes what it holds, so that the next ``prepare`` (or use) starts
    afresh."""

    name: str
    prepare: Callable[[], Awaitable[None]]
    reset: Callable[[], Awaitable[None]]


def distinct(resources: Iterable[Resource]) -> tuple[Resource, ...]:
    """Each resource once, in first-seen order (composed apps declare some twice)."""
    seen: dict[str, Resource] = {}
    for resource in resources:
        seen.setdefault(resource.name, resource)
    return tuple(seen.values())


async def prepare(resources: Sequence[Resource]) -> None:
    # anyio's asyncio backend and its worker threads serve every request (Litestar's dependency
    # resolution, every blocking store call): loaded here rather than by the first request.
    await anyio.to_thread.run_sync(_nothing)
    # socket.getaddrinfo encodes every host name with the idna codec, which the standard library
    # imports on first use (with its stringprep tables).
    "localhost".encode("idna")
    for resource in resources:
        try:
            await resource.prepare()
        except ConfigError as exc:
            # Liveness must not need configuration: the first use of the resource reports it.
            get_logger().warning(
                "resource not built at init",
                extra={"resource": resource.name, "error": exc.message},
            )


def _nothing() -> None:
    return None


async def reset(resources: Sequence[Resource]) -> None:
    """Close every resource; one that fails to close must not keep the others open."""
    for resource in resources:
        try:
            await resource.reset()
        except Exception as exc:  # a dead socket may fail to close; the next build replaces it
            failure = {"resource": resource.name, "error": type(exc).__name__}
            get_logger().warning("resource reset failed", extra=failure)


async def restored(resources: Sequence[Resource]) -> None:
    """After a restore: nothing from the snapshot's connections or random state is reused."""
    await reset(resources)
    reseed()
    await prepare(resources)


def reseed() -> None:
    """Environments restored from one snapshot would otherwise draw the same "random" numbers:
    ``random`` (retry jitter in botocore and psycopg_pool) and OpenSSL's generator."""
    random.seed()
    ssl = sys.modules.get("ssl")
    if ssl is not None:
        ssl.RAND_add(os.urandom(32), 32.0)


def install_runtime_hooks(resources: Sequence[Resource], loop: asyncio.AbstractEventLoop) -> bool:
    """Register the SnapStart hooks with the Python runtime, if this is the Lambda runtime.

    The hooks run on the runtime's thread between invocations, when ``loop`` (the one Mangum
    serves every invocation on) is idle. Returns whether the hooks were registered.
    """
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False

    def before_snapshot() -> None:
        loop.run_until_complete(reset(resources))

    def after_restore() -> None:
        loop.run_until_complete(restored(resources))

    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
