#!/usr/bin/env python3
"""Tell the Auto Scaling group this host is ready: complete its launch lifecycle action.

    host_ready.py            (hook name: LIFECYCLE_HOOK_NAME; region: AWS_REGION)

The group holds every new instance at its launch hook until this runs (start.sh calls it once
Ollama, the proxy and the models answer): an instance launched into the warm pool is stopped
only after its driver, images and models are on its volume, and an instance leaving the pool
is put in service (and behind the load balancer) only once its models are loaded again.
Outside an Auto Scaling group (no group tag in the instance metadata) it does nothing.

The instance finds its group in its own metadata tags (the launch template enables them), so
the user data need not name the group, which would make the template circular.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

# botocore's own override of the metadata address (the tests point it at a fake).
IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
GROUP_TAG = "aws:autoscaling:groupName"
TIMEOUT = 5


def _request(path: str, headers: dict[str, str], method: str = "GET") -> urllib.request.Request:
    if not IMDS.startswith(("http://", "https://")):
        raise ValueError(f"the instance metadata address must be http(s): {IMDS}")
    return urllib.request.Request(f"{IMDS}/latest/{path}", headers=headers, method=method)  # noqa: S310


def _metadata(path: str, token: str) -> str | None:
    request = _request(f"meta-data/{path}", {"X-aws-ec2-metadata-token": token})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def _token() -> str:
    request = _request("api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}, "PUT")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        return str(response.read().decode())


def main() -> int:
    token = _token()
    group = _metadata(f"tags/instance/{GROUP_TAG}", token)
    if not group:
        print("host_ready: not in an Auto Scaling group; nothing to tell")
        return 0
    instance = _metadata("instance-id", token)
    hook = os.environ["LIFECYCLE_HOOK_NAME"]
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("autoscaling", region_name=os.environ["AWS_REGION"])
    try:
        client.complete_lifecycle_action(
            LifecycleHookName=hook,
            AutoScalingGroupName=group,
            InstanceId=instance,
            LifecycleActionResult="CONTINUE",
        )
    except ClientError as error:
        # A restart outside a launch (a reboot, systemctl restart) has no action waiting.
        if "No active Lifecycle Action" in str(error):
            print("host_ready: no launch waiting for this host")
            return 0
        raise
    print(f"host_ready: {instance} ready in {group}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
