"""Scale-to-zero against moto's Auto Scaling (issue 15; matrix row 36): at zero, 20 concurrent
first requests spread over four instances make exactly one ``SetDesiredCapacity(1)``.

The wake lease (a DynamoDB conditional write, moto's DynamoDB here) is what makes it one across
instances: each live server below has its own event loop, so its own model host and waker, as
separate Lambda execution environments would. The "instance" comes up as moto's group reports
it in service, and the model host (the emulator) answers a moment later, like Ollama loading.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import httpx
import pytest

from local.children import free_port
from local.composed import create_local_app
from local.emulator.testing import running_emulator
from tests.support.chat import chat_body, serve_chat_stack
from tests.support.live_server import live_server
from tests.support.services import MotoServer

pytestmark = pytest.mark.anyio

GROUP = "stratus-gpu-hosts"


@pytest.fixture
def wake_calls() -> Iterator[list[str]]:
    """Every SetDesiredCapacity any boto3 client in this process makes, by group."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    calls: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["AutoScalingGroupName"])

    event = "before-parameter-build.auto-scaling.SetDesiredCapacity"
    session.events.register(event, count)
    yield calls
    session.events.unregister(event, count)


@pytest.fixture
def group(moto: MotoServer) -> Iterator[Any]:
    """A GPU host group at zero, in moto (its admin client never calls SetDesiredCapacity)."""
    ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1")
    autoscaling = boto3.client("autoscaling", endpoint_url=moto.endpoint, region_name="us-east-1")
    name = f"gpu-{free_port()}"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "g5.xlarge"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=1,
        DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateName": name},
        AvailabilityZones=["us-east-1a"],
    )
    yield autoscaling, name
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def boot_when_scaled_out(
    autoscaling: Any, name: str, port: int, running: ExitStack, stop: threading.Event
) -> None:
    """The GPU host: once the group has an instance in service, Ollama answers a second later."""
    while not stop.wait(0.1):
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        instances = found["AutoScalingGroups"][0]["Instances"]
        if any(i["LifecycleState"] == "InService" for i in instances):
            if not stop.wait(1.0):
                running.enter_context(running_emulator(port=port))
            return


async def test_twenty_first_requests_over_four_instances_make_one_wake_call(
    auth_env: dict[str, str], moto: MotoServer, group: Any, wake_calls: list[str], emulator
):
    autoscaling, name = group
    port = free_port()
    env = {
        "OLLAMA_BASE_URL": f"http://127.0.0.1:{port}",
        "STRATUS_MODEL_HOST_ASG_NAME": name,
        "AWS_ENDPOINT_URL_AUTO_SCALING": moto.endpoint,
        "STRATUS_MODEL_HOST_HOLD_SECONDS": "20",
        "STRATUS_MODEL_HOST_WAKE_POLL_SECONDS": "0.1",
        "STRATUS_MODELS_CACHE_SECONDS": "0",
    }
    with ExitStack() as host, ExitStack() as before:
        # The host served before it was scaled in: its models are known (in Postgres).
        before.enter_context(running_emulator(port=port))
        async with serve_chat_stack(emulator, env) as stack:
            listed = await stack.http.get("/v1/models", headers=stack.user.headers)
            assert "emulator-chat:latest" in listed.text
            before.close()  # scaled in: the instance and its Ollama are gone
            with ExitStack() as servers:
                urls = [stack.base_url] + [
                    servers.enter_context(live_server(create_local_app())).base_url
                    for _ in range(3)
                ]
                stop = threading.Event()
                booting = threading.Thread(
                    target=boot_when_scaled_out, args=(autoscaling, name, port, host, stop)
                )
                booting.start()
                try:
                    async with httpx.AsyncClient(timeout=60) as client:
                        answers = await asyncio.gather(
                            *(
                                client.post(
                                    f"{urls[i % 4]}/v1/chat/completions",
                                    json=chat_body(f"wake {i}"),
                                    headers=stack.user.headers,
                                )
                                for i in range(20)
                            )
                        )
                finally:
                    stop.set()
                    booting.join(10)
    assert [a.status_code for a in answers] == [200] * 20, answers[0].text[:300]
    # One wake call for twenty requests on four instances: the lease.
    assert wake_calls == [name]
