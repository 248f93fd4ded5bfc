"""The signing secret: refuse a weak one without echoing it; Secrets Manager through moto."""

from __future__ import annotations

import uuid

import boto3
import psutil
import pytest
from moto import mock_aws

from stratus.auth.secret import reset_signing_key, signing_key
from stratus.errors import ConfigError
from stratus.settings import AuthSettings
from tests.support.services import patched_environ

STRONG = "Zq8v3N0p-R7tYx2L5kW9mB4cH6jD1fGs_eA"


def _settings(**env: str) -> AuthSettings:
    return AuthSettings.from_env(env)


@pytest.fixture(autouse=True)
def _fresh_cache():
    reset_signing_key()
    yield
    reset_signing_key()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("t0p-s3cr3t", "a published default"),
        ("CHANGEME", "a published default"),
        ("short-but-random-9f2", "shorter than 32"),
        ("a" * 64, "too repetitive"),
    ],
)
def test_weak_secret_refuses_to_start_without_echoing_it(value, reason):
    env = {"WEBUI_SECRET_KEY": value} if value is not None else {}
    with pytest.raises(ConfigError) as raised:
        signing_key(_settings(**env))
    message = str(raised.value)
    assert "WEBUI_SECRET_KEY" in message
    assert reason in message
    if value:
        assert value not in message
        assert value.lower() not in message.lower()


def test_strong_secret_is_used_as_is():
    assert signing_key(_settings(WEBUI_SECRET_KEY=STRONG)) == STRONG


def test_dev_mode_allows_weak_or_missing_secrets():
    assert signing_key(_settings(STRATUS_DEV_MODE="true", WEBUI_SECRET_KEY="dev")) == "dev"
    generated = signing_key(_settings(STRATUS_DEV_MODE="true"))
    assert len(generated) >= 32


def test_settings_repr_never_shows_the_secret():
    assert STRONG not in repr(_settings(WEBUI_SECRET_KEY=STRONG))


@mock_aws
def test_secret_comes_from_secrets_manager_when_an_arn_is_set():
    with patched_environ(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "eu-west-1",
        },
        remove=("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
    ):
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(Name="stratus/jwt", SecretString=STRONG)["ARN"]
        # The ARN wins over any WEBUI_SECRET_KEY left in the environment.
        settings = _settings(STRATUS_SECRET_KEY_ARN=arn, WEBUI_SECRET_KEY="ignored-" + "x" * 40)
        assert signing_key(settings) == STRONG
        # Read once per process: deleting the secret does not break running requests.
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        assert signing_key(settings) == STRONG


@mock_aws
def test_a_weak_or_unreadable_secrets_manager_value_refuses_to_start():
    with patched_environ(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "eu-west-1",
        },
        remove=("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
    ):
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        weak = client.create_secret(Name="stratus/weak", SecretString="t0p-s3cr3t")["ARN"]
        with pytest.raises(
            ConfigError, match=r"STRATUS_SECRET_KEY_ARN.*published default"
        ) as raised:
            signing_key(_settings(STRATUS_SECRET_KEY_ARN=weak))
        assert "t0p-s3cr3t" not in str(raised.value)
        with pytest.raises(ConfigError, match="could not be read"):
            signing_key(_settings(STRATUS_SECRET_KEY_ARN="stratus/does-not-exist"))


def test_reading_the_secret_leaves_no_connection_open(moto):
    # The entry points read the key at init: a SnapStart snapshot must not keep its socket.
    moto_port = int(moto.endpoint.rsplit(":", 1)[1])
    env = {**moto.env(), "AWS_ENDPOINT_URL": moto.endpoint}
    with patched_environ(env, remove=("AWS_ENDPOINT_URL_SECRETS_MANAGER",)):
        admin = boto3.client("secretsmanager")
        arn = admin.create_secret(Name=f"stratus/{uuid.uuid4().hex}", SecretString=STRONG)["ARN"]
        admin.close()
        assert signing_key(_settings(STRATUS_SECRET_KEY_ARN=arn)) == STRONG
    assert _connections_to(moto_port) == []


def _connections_to(port: int) -> list[object]:
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]
