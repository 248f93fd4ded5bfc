"""host_ready.py completes the group's launch hook for this instance, found in its metadata.

A fake instance metadata service (IMDSv2: token, instance id, the group tag) and a fake Auto
Scaling endpoint on loopback (moto has no CompleteLifecycleAction); the script runs as on the
host, with its boto3 client pointed at the fake through AWS_ENDPOINT_URL_AUTO_SCALING.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from infra.gpu_host.user_data import HostParameters
from tests.support.proxy import REPO

SCRIPT = REPO / "gpu-host" / "host_ready.py"
HOOK = HostParameters("", "").lifecycle_hook_name
TOKEN = "imds-token"
INSTANCE = "i-0123456789abcdef0"
NO_ACTION = (
    '<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error>'
    "<Type>Sender</Type><Code>ValidationError</Code>"
    f"<Message>No active Lifecycle Action found with instance ID {INSTANCE}</Message>"
    "</Error><RequestId>r</RequestId></ErrorResponse>"
)
DONE = (
    '<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">'
    "<CompleteLifecycleActionResult/><ResponseMetadata><RequestId>r</RequestId>"
    "</ResponseMetadata></CompleteLifecycleActionResponse>"
)


@dataclass
class FakeAws:
    url: str
    group: str | None = "Stratus-GpuHosts-ABC"
    action_waiting: bool = True
    calls: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def aws() -> Iterator[FakeAws]:
    state = FakeAws("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            ok = self.path == "/latest/api/token" and ttl
            self._send(200, TOKEN) if ok else self._send(400, "")

        def do_GET(self) -> None:
            if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                return self._send(401, "")  # IMDSv2 only, as the launch template requires
            values = {
                "/latest/meta-data/instance-id": INSTANCE,
                "/latest/meta-data/tags/instance/aws:autoscaling:groupName": state.group,
            }
            value = values.get(self.path)
            return self._send(200, value) if value else self._send(404, "")

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            state.calls.append(form)
            if state.action_waiting:
                self._send(200, DONE)
            else:
                self._send(400, NO_ACTION)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _run(aws: FakeAws) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": aws.url,
        "AWS_ENDPOINT_URL_AUTO_SCALING": aws.url,
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LIFECYCLE_HOOK_NAME": HOOK,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_completes_the_launch_hook_of_its_own_group_and_instance(aws: FakeAws) -> None:
    result = _run(aws)
    assert result.returncode == 0, result.stderr
    (call,) = aws.calls
    assert call["Action"] == "CompleteLifecycleAction"
    assert call["LifecycleHookName"] == HOOK == "stratus-gpu-host-ready"
    assert call["AutoScalingGroupName"] == "Stratus-GpuHosts-ABC"
    assert call["InstanceId"] == INSTANCE
    assert call["LifecycleActionResult"] == "CONTINUE"


def test_a_restart_with_no_launch_waiting_is_not_a_failure(aws: FakeAws) -> None:
    aws.action_waiting = False
    result = _run(aws)
    assert result.returncode == 0, result.stderr
    assert "no launch waiting" in result.stdout
    assert len(aws.calls) == 1


def test_outside_a_group_it_asks_nothing(aws: FakeAws) -> None:
    aws.group = None
    result = _run(aws)
    assert result.returncode == 0, result.stderr
    assert aws.calls == []
