"""What starts the model host when it sleeps: one interface, two implementations.

- ``AutoScalingGroup``: the GPU host's EC2 Auto Scaling group in AWS
  (``STRATUS_MODEL_HOST_ASG_NAME``). Asleep is a desired capacity of 0; waking sets it to 1
  (``autoscaling:SetDesiredCapacity``, granted on that group only).
- ``LocalSupervisor``: the local stack's supervisor of the emulated host
  (``STRATUS_MODEL_HOST_SUPERVISOR_URL``; ``local/model_host_supervisor.py``), which stops the
  emulator when idle and starts it again after a simulated boot.

Neither is ever called on the hot path: only when the host did not answer. So the boto3
client is built on that first call, not at init (it would cost every cold start ~60 ms for a
path most invocations never take).
"""

from __future__ import annotations

import asyncio
import enum
import json
import urllib.request
from typing import Any, Protocol

from stratus.settings import ModelHostSettings

# A control call that hangs must not hold a request longer than the hold itself would.
_CONTROL_TIMEOUT = 5.0


class HostState(enum.StrEnum):
    AWAKE = "awake"  # the controller has the host running (it may still be loading)
    STARTING = "starting"
    ASLEEP = "asleep"


class WakeController(Protocol):
    """``name`` keys the wake lease: one per host, whatever instance asks."""

    name: str

    async def state(self) -> HostState: ...
    async def wake(self) -> None: ...


class AutoScalingGroup:
    def __init__(self, group_name: str, region: str) -> None:
        self.name = f"asg:{group_name}"
        self.group_name = group_name
        self.region = region
        self._client: Any = None

    def _autoscaling(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("autoscaling", region_name=self.region)
        return self._client

    async def state(self) -> HostState:
        def describe() -> dict[str, Any]:
            groups = self._autoscaling().describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.group_name]
            )["AutoScalingGroups"]
            return groups[0] if groups else {}

        group = await asyncio.to_thread(describe)
        if not group.get("DesiredCapacity"):
            return HostState.ASLEEP
        in_service = [
            i for i in group.get("Instances", ()) if i.get("LifecycleState") == "InService"
        ]
        return HostState.AWAKE if in_service else HostState.STARTING

    async def wake(self) -> None:
        await asyncio.to_thread(
            self._autoscaling().set_desired_capacity,
            AutoScalingGroupName=self.group_name,
            DesiredCapacity=1,
            # A wake is a request, not a correction: the group's cooldown does not apply.
            HonorCooldown=False,
        )

    def reset(self) -> None:
        """After a SnapStart restore: credentials and connections are made afresh."""
        self._client = None


class LocalSupervisor:
    def __init__(self, url: str) -> None:
        self.name = f"supervisor:{url}"
        self.url = url

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310 (http(s) only: settings)
        with urllib.request.urlopen(request, timeout=_CONTROL_TIMEOUT) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
        return answer if isinstance(answer, dict) else {}

    async def state(self) -> HostState:
        answer = await asyncio.to_thread(self._call, "GET", "/state")
        return HostState(answer.get("state", HostState.AWAKE))

    async def wake(self) -> None:
        await asyncio.to_thread(self._call, "POST", "/wake")

    def reset(self) -> None:
        pass


def configured_controller(
    settings: ModelHostSettings, region: str
) -> AutoScalingGroup | LocalSupervisor | None:
    if settings.asg_name:
        return AutoScalingGroup(settings.asg_name, region)
    if settings.supervisor_url:
        return LocalSupervisor(settings.supervisor_url)
    return None
