"""fetch_token.py reads the proxy's token from Secrets Manager (moto's server here) and writes
it where only root reads it, refusing tokens the nginx config cannot match safely."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.proxy import REPO
from tests.support.services import MotoServer

SCRIPT = REPO / "gpu-host" / "fetch_token.py"
GOOD = "0123456789abcdef" * 4


def _secret(moto: MotoServer, value: str) -> str:
    env = moto.env()
    client: Any = boto3.client(
        "secretsmanager",
        endpoint_url=moto.endpoint,
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return str(client.create_secret(Name=f"ollama-{uuid.uuid4().hex}", SecretString=value)["ARN"])


def _fetch(moto: MotoServer, arn: str, output: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **moto.env(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), arn, str(output)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_writes_the_token_to_an_env_file_only_its_owner_reads(
    moto: MotoServer, tmp_path: Path
) -> None:
    output = tmp_path / "proxy.env"
    result = _fetch(moto, _secret(moto, GOOD), output)
    assert result.returncode == 0, result.stderr
    assert output.read_text() == f"OLLAMA_API_KEY={GOOD}\n"
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert GOOD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "token",
    [
        GOOD.upper(),  # nginx would match it ignoring case: less entropy than it seems
        "short-token",
        "x" * 97,  # longer than the map's hash bucket holds
        GOOD[:-1] + '"',  # would end the quoted nginx map key
        GOOD[:-1] + "$",  # would be read as an nginx variable
        GOOD + "\n",
    ],
)
def test_refuses_a_token_outside_the_safe_alphabet_without_echoing_it(
    moto: MotoServer, tmp_path: Path, token: str
) -> None:
    output = tmp_path / "proxy.env"
    result = _fetch(moto, _secret(moto, token), output)
    assert result.returncode == 1
    assert "lowercase letters, digits" in result.stderr
    assert token.strip() not in result.stderr
    assert not output.exists()
