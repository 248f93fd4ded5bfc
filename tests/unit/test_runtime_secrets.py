"""Secrets read at init from Secrets Manager (moto): the database URL, as a URL or as RDS's JSON
credentials, and the model host's token. A missing or unusable secret stops start-up with an
error that names the variable and never the value."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psutil
import pytest
from moto import mock_aws

from stratus.errors import ConfigError
from stratus.runtime_secrets import (
    cdn_origin_secret,
    database_url,
    ollama_api_key,
    require_runtime_secrets,
    reset_runtime_secrets,
)
from stratus.settings import (
    DatabaseSettings,
    ModelHostSettings,
    WebSettings,
    reset_settings,
    web_settings,
)
from tests.support.services import patched_environ

SECRET_WORD = "s3cr3t-Pa55"  # never in an error message
RDS_SECRET = {
    "username": "stratus",
    "password": f"{SECRET_WORD}:/@?",
    "engine": "postgres",
    "host": "db-instance.abc.us-east-1.rds.amazonaws.com",
    "port": 5432,
    "dbname": "stratus",
    "dbInstanceIdentifier": "db-instance",
}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    reset_runtime_secrets()
    reset_settings()
    yield
    reset_runtime_secrets()
    reset_settings()


@pytest.fixture
def secrets() -> Iterator[Any]:
    with (
        patched_environ({"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing"}),
        patched_environ({"AWS_SECRET_ACCESS_KEY": "testing"}, remove=("AWS_ENDPOINT_URL",)),
        mock_aws(),
    ):
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _secret(client: Any, value: str | bytes) -> str:
    name = f"stratus/{uuid.uuid4().hex}"
    if isinstance(value, bytes):
        arn: str = client.create_secret(Name=name, SecretBinary=value)["ARN"]
    else:
        arn = client.create_secret(Name=name, SecretString=value)["ARN"]
    return arn


def _database(**env: str) -> DatabaseSettings:
    return DatabaseSettings.from_env(env)


def _model_host(**env: str) -> ModelHostSettings:
    return ModelHostSettings.from_env(env)


def test_a_secret_holding_a_url_is_used_as_it_is(secrets: Any) -> None:
    url = f"postgresql://app:{SECRET_WORD}@db.example:5432/app?sslmode=verify-full"
    arn = _secret(secrets, url + "\n")
    settings = _database(DATABASE_URL_SECRET_ARN=arn, DATABASE_HOST="ignored.example")
    assert database_url(settings) == url


def test_rds_json_credentials_become_a_url_through_the_proxy(secrets: Any) -> None:
    arn = _secret(secrets, json.dumps(RDS_SECRET))
    # The stack's case: RDS's secret names the instance; the functions go through the proxy.
    settings = _database(
        DATABASE_URL_SECRET_ARN=arn,
        DATABASE_HOST="proxy.example",
        DATABASE_PORT="6432",
        DATABASE_NAME="other",
    )
    assert database_url(settings) == (
        "postgresql://stratus:s3cr3t-Pa55%3A%2F%40%3F@proxy.example:6432/other?sslmode=require"
    )
    # Without overrides, the secret's own host, port and database.
    reset_runtime_secrets()
    assert database_url(_database(DATABASE_URL_SECRET_ARN=arn)) == (
        "postgresql://stratus:s3cr3t-Pa55%3A%2F%40%3F@"
        "db-instance.abc.us-east-1.rds.amazonaws.com:5432/stratus?sslmode=require"
    )


def test_a_socket_directory_host_makes_a_socket_url(secrets: Any) -> None:
    arn = _secret(secrets, json.dumps({"username": "u", "password": "p"}))
    settings = _database(
        DATABASE_URL_SECRET_ARN=arn, DATABASE_HOST="/run/pg", DATABASE_NAME="stratus"
    )
    assert database_url(settings) == "postgresql://u:p@/stratus?host=%2Frun%2Fpg"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (f"not a url, {SECRET_WORD}", "neither a postgresql:// URL nor a JSON object"),
        (json.dumps([SECRET_WORD]), "neither a postgresql:// URL nor a JSON object"),
        (json.dumps({**RDS_SECRET, "password": None}), "lacks password"),
        (json.dumps({"username": SECRET_WORD, "password": SECRET_WORD}), "lacks host"),
        (SECRET_WORD.encode("utf-16"), "binary, not text"),
    ],
)
def test_an_unusable_database_secret_names_the_variable_not_the_value(
    secrets: Any, value: str | bytes, message: str
) -> None:
    arn = _secret(secrets, value)
    with pytest.raises(ConfigError) as caught:
        database_url(_database(DATABASE_URL_SECRET_ARN=arn))
    assert caught.value.message.startswith("DATABASE_URL_SECRET_ARN: ")
    assert message in caught.value.message
    assert SECRET_WORD not in str(caught.value)
    # No chained exception carries the value either (a JSON error holds the whole document).
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_a_missing_secret_stops_start_up_naming_the_variable(secrets: Any) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stratus/gone-AbCdEf"
    with (
        patched_environ({"DATABASE_URL_SECRET_ARN": missing}, remove=("DATABASE_URL",)),
        pytest.raises(ConfigError) as caught,
    ):
        require_runtime_secrets()
    assert caught.value.message == (
        "DATABASE_URL_SECRET_ARN: the secret could not be read (ResourceNotFoundException)"
    )
    with patched_environ(
        {"OLLAMA_API_KEY_SECRET_ARN": missing}, remove=("DATABASE_URL", "OLLAMA_API_KEY")
    ):
        reset_settings()
        with pytest.raises(ConfigError, match=r"^OLLAMA_API_KEY_SECRET_ARN: .*could not be read"):
            require_runtime_secrets()


def test_the_model_host_token_comes_from_its_secret(secrets: Any) -> None:
    token = "a" * 8 + uuid.uuid4().hex
    arn = _secret(secrets, token + "\n")
    settings = _model_host(OLLAMA_API_KEY_SECRET_ARN=arn)
    assert ollama_api_key(settings) == token
    assert token not in repr(settings)
    empty = _secret(secrets, "  ")
    with pytest.raises(ConfigError, match=r"^OLLAMA_API_KEY_SECRET_ARN: the secret is empty$"):
        ollama_api_key(_model_host(OLLAMA_API_KEY_SECRET_ARN=empty))
    # Without an ARN the variable is used, and nothing is read.
    assert ollama_api_key(_model_host(OLLAMA_API_KEY="plain")) == "plain"


def test_cloudfronts_origin_secret_comes_from_its_secret(secrets: Any) -> None:
    value = "cdn" + uuid.uuid4().hex
    arn = _secret(secrets, value + "\n")
    settings = WebSettings.from_env({"STRATUS_CDN_ORIGIN_SECRET_ARN": arn})
    assert settings.cdn_origin_secret_arn == arn
    assert cdn_origin_secret(settings) == value
    # An empty secret would let an empty header vouch for any address.
    empty = _secret(secrets, " ")
    with pytest.raises(ConfigError, match=r"^STRATUS_CDN_ORIGIN_SECRET_ARN: the secret is empty$"):
        cdn_origin_secret(WebSettings.from_env({"STRATUS_CDN_ORIGIN_SECRET_ARN": empty}))
    # Without an ARN there is no secret, and nothing is read.
    assert cdn_origin_secret(WebSettings.from_env({})) is None


def test_a_missing_cdn_secret_stops_start_up_naming_the_variable(secrets: Any) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stratus/gone-AbCdEf"
    with (
        patched_environ({"STRATUS_CDN_ORIGIN_SECRET_ARN": missing}, remove=("DATABASE_URL",)),
        pytest.raises(ConfigError) as caught,
    ):
        require_runtime_secrets()
    assert caught.value.message == (
        "STRATUS_CDN_ORIGIN_SECRET_ARN: the secret could not be read (ResourceNotFoundException)"
    )


def test_init_reads_each_secret_once(secrets: Any) -> None:
    url = "postgresql://app:pw@db.example/app"
    db_arn = _secret(secrets, url)
    token_arn = _secret(secrets, "token-" + uuid.uuid4().hex)
    cdn_arn = _secret(secrets, "cdn-" + uuid.uuid4().hex)
    env = {
        "DATABASE_URL_SECRET_ARN": db_arn,
        "OLLAMA_API_KEY_SECRET_ARN": token_arn,
        "STRATUS_CDN_ORIGIN_SECRET_ARN": cdn_arn,
    }
    with patched_environ(env, remove=("DATABASE_URL", "OLLAMA_API_KEY")):
        require_runtime_secrets()
        # Gone from Secrets Manager after init: the process keeps what it read at init.
        for arn in (db_arn, token_arn, cdn_arn):
            secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        from stratus.settings import database_settings, model_host_settings

        assert database_url(database_settings()) == url
        assert ollama_api_key(model_host_settings()) is not None
        assert (cdn_origin_secret(web_settings()) or "").startswith("cdn-")


def test_settings_take_a_url_or_an_arn_not_both() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL or DATABASE_URL_SECRET_ARN, not both"):
        _database(DATABASE_URL="postgresql://x/y", DATABASE_URL_SECRET_ARN="arn:x")
    with pytest.raises(ConfigError, match="DATABASE_URL is not set"):
        _database()
    with pytest.raises(ConfigError, match="DATABASE_PORT must be a whole number"):
        _database(DATABASE_URL_SECRET_ARN="arn:x", DATABASE_PORT="five")
    with pytest.raises(ConfigError, match="OLLAMA_API_KEY or OLLAMA_API_KEY_SECRET_ARN"):
        _model_host(OLLAMA_API_KEY="k", OLLAMA_API_KEY_SECRET_ARN="arn:x")
    settings = _database(DATABASE_URL=f"postgresql://u:{SECRET_WORD}@h/d")
    assert SECRET_WORD not in repr(settings)
    # Without an ARN nothing is read: the URL is the variable's.
    assert database_url(settings) == f"postgresql://u:{SECRET_WORD}@h/d"


def test_reading_at_init_leaves_no_connection_open(moto: Any) -> None:
    # A SnapStart snapshot must not keep the client's socket.
    moto_port = int(moto.endpoint.rsplit(":", 1)[1])
    env = {**moto.env(), "AWS_ENDPOINT_URL": moto.endpoint}
    with patched_environ(env, remove=("AWS_ENDPOINT_URL_SECRETS_MANAGER", "DATABASE_URL")):
        admin = boto3.client("secretsmanager")
        arn = admin.create_secret(
            Name=f"stratus/{uuid.uuid4().hex}", SecretString=json.dumps(RDS_SECRET)
        )["ARN"]
        admin.close()
        with patched_environ({"DATABASE_URL_SECRET_ARN": arn}):
            require_runtime_secrets()
    assert _connections_to(moto_port) == []


def _connections_to(port: int) -> list[object]:
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    ]
