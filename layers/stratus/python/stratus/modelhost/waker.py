"""Scale-to-zero: a model host that sleeps is woken by the first request that needs it, once.

The GPU host costs nothing while its group is at zero. A request for one of its models (after
authentication and admission: nothing else may wake it, matrix row 36) finds it unreachable,
and this process's ``Waker`` then:

- asks the controller (``wake_controllers``) whether the host sleeps, is starting or should
  be up (then the failure is a real outage, answered 503 as before);
- holds the request while one task per process brings the host up: it takes the wake lease
  (a DynamoDB conditional write, so however many requests and instances arrive at once,
  exactly one wake call is made), wakes the host, and probes it until it answers;
- releases every held request when the host answers.

Requests that arrive while a wake is under way skip the doomed connection attempt and wait
at once. Metrics: ``HeldRequests``, ``ModelHostWakes``, ``ModelHostWakeSeconds``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from aws_lambda_powertools.metrics import MetricUnit

from stratus.errors import ServiceUnavailableError
from stratus.modelhost import host_metrics
from stratus.modelhost.wake_controllers import HostState, WakeController
from stratus.observability import get_logger
from stratus.settings import ModelHostSettings

LEASE_PK = "model-host#wake"
WOKEN_PK = "model-host#woken"
# Held from the wake call until the host answers; expires by itself if its holder dies.
LEASE_SECONDS = 300
# How often the controller's state is read while waiting (its API is rate-limited).
_STATE_EVERY = 5.0

Probe = Callable[[], Awaitable[bool]]


class Waker:
    def __init__(
        self,
        controller: WakeController,
        settings: ModelHostSettings,
        probe: Probe,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.controller = controller
        self.settings = settings
        self._probe = probe
        self._clock = clock
        self._owner = uuid.uuid4().hex
        self._task: asyncio.Task[bool] | None = None

    @property
    def waking(self) -> bool:
        """A wake is under way in this process: the host is known not to answer yet."""
        return self._task is not None and not self._task.done()

    async def hold_state(self) -> HostState | None:
        """Why the host did not answer: ``ASLEEP`` or ``STARTING`` (hold the request), or None
        when its controller has it running and nobody woke it lately (a real outage)."""
        if self.waking:
            return HostState.STARTING
        try:
            state = await self.controller.state()
            if state is HostState.AWAKE and await self._woken_lately():
                # Running, but woken within the hold: Ollama may still be loading.
                return HostState.STARTING
        except Exception as exc:  # a controller we can't ask can't tell us to wait
            get_logger().warning(
                "model host controller unreachable", extra={"error": type(exc).__name__}
            )
            return None
        return None if state is HostState.AWAKE else state

    async def wait_awake(self, hold: float) -> bool:
        """Hold until the host answers (waking it if it sleeps) or ``hold`` seconds pass."""
        host_metrics.record("HeldRequests")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._bring_up(), name="model-host-wake")
        try:
            return await asyncio.wait_for(asyncio.shield(self._task), hold)
        except TimeoutError:
            return False

    async def close(self) -> None:
        """Stop waiting (the process's HTTP session is closing); the wake call, if made, stays."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _bring_up(self) -> bool:
        started = self._clock()
        deadline = started + self.settings.wake_hold_seconds
        woke_at: float | None = None
        next_state_check = started
        while self._clock() < deadline:
            if await self._probe():
                if woke_at is not None:
                    host_metrics.record(
                        "ModelHostWakeSeconds", self._clock() - woke_at, MetricUnit.Seconds
                    )
                    # Awake: the next sleep may be woken again at once.
                    await self._release_lease()
                return True
            if self._clock() >= next_state_check:
                next_state_check = self._clock() + _STATE_EVERY
                if woke_at is None and await self._asleep() and await self._take_lease():
                    # Asleep when read, but another instance may have woken it since: read
                    # again now that this one holds the lease (double-checked).
                    if await self._asleep():
                        woke_at = await self._wake()
                    else:
                        await self._release_lease()
            await asyncio.sleep(self.settings.wake_poll_seconds)
        get_logger().warning("the model host did not wake within the hold")
        return False

    async def _asleep(self) -> bool:
        try:
            return await self.controller.state() is HostState.ASLEEP
        except Exception as exc:
            get_logger().warning(
                "model host controller unreachable", extra={"error": type(exc).__name__}
            )
            return False

    async def _wake(self) -> float | None:
        # Recorded first: from the moment the group says "in service", other instances must
        # read a host that doesn't answer yet as starting, not as broken.
        await self._remember_woken()
        try:
            await self.controller.wake()
        except Exception as exc:
            get_logger().error("waking the model host failed", extra={"error": type(exc).__name__})
            await self._forget_woken()
            await self._release_lease()
            return None
        host_metrics.record("ModelHostWakes")
        get_logger().info("woke the model host", extra={"controller": self.controller.name})
        return self._clock()

    # -- the lease: one wake call per host, across every instance --------------------------

    async def _take_lease(self) -> bool:
        from stratus.ephemeral.store import get_ephemeral_store

        try:
            return await get_ephemeral_store().put(
                LEASE_PK,
                self.controller.name,
                ttl_seconds=LEASE_SECONDS,
                owner=self._owner,
                only_if_absent=True,
            )
        except ServiceUnavailableError:
            # Availability first: a second SetDesiredCapacity(1) is harmless, a host that
            # never wakes is not.
            get_logger().warning("wake lease unavailable; waking without it")
            return True

    async def _release_lease(self) -> None:
        from stratus.ephemeral.store import get_ephemeral_store

        try:
            await get_ephemeral_store().delete(LEASE_PK, self.controller.name)
        except ServiceUnavailableError:
            get_logger().warning("wake lease not released; it expires by itself")

    async def _remember_woken(self) -> None:
        from stratus.ephemeral.store import get_ephemeral_store

        try:
            await get_ephemeral_store().put(
                WOKEN_PK, self.controller.name, ttl_seconds=int(self.settings.wake_hold_seconds)
            )
        except ServiceUnavailableError:
            get_logger().warning("could not record the wake")

    async def _forget_woken(self) -> None:
        from stratus.ephemeral.store import get_ephemeral_store

        try:
            await get_ephemeral_store().delete(WOKEN_PK, self.controller.name)
        except ServiceUnavailableError:
            get_logger().warning("could not forget the failed wake")

    async def _woken_lately(self) -> bool:
        from stratus.ephemeral.store import get_ephemeral_store

        try:
            return await get_ephemeral_store().get(WOKEN_PK, self.controller.name) is not None
        except ServiceUnavailableError:
            return False
