"""Typed settings: defaults, list parsing, and errors that name a variable but never its value."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import TestClient

from stratus.errors import ConfigError
from stratus.settings import (
    AwsSettings,
    DatabaseSettings,
    ModelHostSettings,
    StorageSettings,
    TelemetrySettings,
    WebSettings,
    database_settings,
    reset_settings,
    web_settings,
)
from stratus.web.plugin import StratusPlugin

DB_URL = "postgresql://stratus@localhost/stratus"
SECRET = "pa55w0rd-d0-not-leak"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    reset_settings()
    yield
    reset_settings()


def _message(exc_info: pytest.ExceptionInfo[ConfigError]) -> str:
    exc = exc_info.value
    # Everything a log line or error body could show about the error.
    return " ".join([str(exc), repr(exc), exc.message, *map(str, exc.args)])


# --- web ---------------------------------------------------------------------------------------


def test_web_defaults_allow_no_cross_origin_and_trust_no_proxy():
    settings = WebSettings.from_env({})
    assert settings.cors_allow_origins == ()
    # On one host every client's peer is loopback: trusting it would let anyone name their IP.
    assert settings.forwarded_allow_ips == ()
    assert settings.trust_adapter_context is False
    assert settings.log_level == "INFO"
    assert settings.human_logs is False
    assert settings.expose_upstream_urls is False


def test_the_web_adapter_request_context_is_trusted_only_in_lambda():
    assert WebSettings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "stratus-chat"}).trust_adapter_context
    assert not WebSettings.from_env({"AWS_LAMBDA_FUNCTION_NAME": ""}).trust_adapter_context


def test_default_app_sends_no_cors_headers(monkeypatch):
    # GIVEN no CORS_ALLOW_ORIGIN: a browser on another origin gets no Access-Control-* grant
    monkeypatch.delenv("CORS_ALLOW_ORIGIN", raising=False)
    reset_settings()
    app = Litestar([], plugins=[StratusPlugin(service="t", readiness=())])
    with TestClient(app) as client:
        simple = client.get("/healthz", headers={"Origin": "https://evil.example"})
        preflight = client.options(
            "/healthz",
            headers={
                "Origin": "https://evil.example",
                "Access-Control-Request-Method": "GET",
            },
        )
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_listed_cors_origin_is_allowed(monkeypatch):
    monkeypatch.setenv("CORS_ALLOW_ORIGIN", "https://app.example;https://admin.example")
    reset_settings()
    app = Litestar([], plugins=[StratusPlugin(service="t", readiness=())])
    with TestClient(app) as client:
        allowed = client.get("/healthz", headers={"Origin": "https://admin.example"})
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://admin.example"
    assert "access-control-allow-origin" not in other.headers


def test_cors_wildcard_cannot_be_mixed_with_origins():
    with pytest.raises(ConfigError, match="CORS_ALLOW_ORIGIN"):
        WebSettings.from_env({"CORS_ALLOW_ORIGIN": "*;https://app.example"})
    assert WebSettings.from_env({"CORS_ALLOW_ORIGIN": "*"}).cors_allow_origins == ("*",)


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.1,10.0.0.2,192.168.0.0/16",
        "10.0.0.1;10.0.0.2;192.168.0.0/16",
        "10.0.0.1, 10.0.0.2; 192.168.0.0/16 ,",
    ],
    ids=["commas", "semicolons", "mixed-with-spaces"],
)
def test_forwarded_allow_ips_accepts_comma_or_semicolon_lists(value):
    settings = WebSettings.from_env({"FORWARDED_ALLOW_IPS": value})
    assert settings.forwarded_allow_ips == ("10.0.0.1", "10.0.0.2", "192.168.0.0/16")


def test_log_level_falls_back_to_powertools_variable():
    assert WebSettings.from_env({"POWERTOOLS_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    env = {"LOG_LEVEL": "warning", "POWERTOOLS_LOG_LEVEL": "debug"}
    assert WebSettings.from_env(env).log_level == "WARNING"


# --- model host --------------------------------------------------------------------------------


def test_ollama_base_url_default_and_trailing_slash():
    assert ModelHostSettings.from_env({}).ollama_base_urls == ("http://localhost:11434",)
    settings = ModelHostSettings.from_env({"OLLAMA_BASE_URL": "http://gpu.internal:11434/"})
    assert settings.ollama_base_url == "http://gpu.internal:11434"


def test_ollama_base_urls_list_overrides_single_url():
    settings = ModelHostSettings.from_env(
        {
            "OLLAMA_BASE_URL": "http://ignored:1",
            "OLLAMA_BASE_URLS": "http://gpu-a:11434/; http://gpu-b:11434",
        }
    )
    assert settings.ollama_base_urls == ("http://gpu-a:11434", "http://gpu-b:11434")
    assert settings.ollama_base_url == "http://gpu-a:11434"


@pytest.mark.parametrize("keys", ["", "sk-one", "sk-one;sk-two"])
def test_openai_keys_pair_with_base_urls(keys):
    env = {"OPENAI_API_BASE_URLS": "https://a.example/v1;https://b.example/v1"}
    if keys:
        env["OPENAI_API_KEYS"] = keys
    settings = ModelHostSettings.from_env(env)
    assert settings.openai_api_base_urls == ("https://a.example/v1", "https://b.example/v1")
    assert settings.openai_api_keys == tuple(k for k in keys.split(";") if k)


def test_openai_key_count_mismatch_is_a_config_error_without_the_keys():
    env = {
        "OPENAI_API_BASE_URLS": "https://a.example/v1;https://b.example/v1",
        "OPENAI_API_KEYS": f"sk-{SECRET}-1;sk-{SECRET}-2;sk-{SECRET}-3",
    }
    with pytest.raises(ConfigError) as exc_info:
        ModelHostSettings.from_env(env)
    message = _message(exc_info)
    assert "OPENAI_API_KEYS" in message
    assert SECRET not in message


def test_single_openai_variables_are_accepted():
    settings = ModelHostSettings.from_env(
        {"OPENAI_API_BASE_URL": "https://api.example/v1", "OPENAI_API_KEY": "sk-x"}
    )
    assert settings.openai_api_base_urls == ("https://api.example/v1",)
    assert settings.openai_api_keys == ("sk-x",)


# --- database ----------------------------------------------------------------------------------


def test_pool_size_defaults_to_one_in_lambda():
    settings = DatabaseSettings.from_env(
        {"DATABASE_URL": DB_URL, "AWS_LAMBDA_FUNCTION_NAME": "stratus-chat"}
    )
    assert settings.pool_size == 1
    assert settings.check_on_checkout is True


def test_pool_size_defaults_to_five_elsewhere():
    settings = DatabaseSettings.from_env({"DATABASE_URL": DB_URL})
    assert settings.pool_size == 5
    assert settings.check_on_checkout is False
    assert settings.pool_timeout == 5.0


def test_explicit_pool_size_wins_in_lambda():
    env = {"DATABASE_URL": DB_URL, "AWS_LAMBDA_FUNCTION_NAME": "f", "DATABASE_POOL_SIZE": "3"}
    assert DatabaseSettings.from_env(env).pool_size == 3


def test_missing_database_url_names_the_variable():
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        DatabaseSettings.from_env({})


def test_postgres_scheme_alias_is_accepted():
    url = "postgres://u@h/db"
    assert DatabaseSettings.from_env({"DATABASE_URL": url}).url == url


# --- values never leak into errors -------------------------------------------------------------

BAD_VALUES: list[tuple[str, Callable[[dict[str, str]], Any], dict[str, str]]] = [
    (
        "DATABASE_URL",
        DatabaseSettings.from_env,
        {"DATABASE_URL": f"mysql://admin:{SECRET}@db.internal:3306/stratus"},
    ),
    (
        "DATABASE_POOL_SIZE",
        DatabaseSettings.from_env,
        {"DATABASE_URL": DB_URL, "DATABASE_POOL_SIZE": f"five-{SECRET}"},
    ),
    (
        "DATABASE_POOL_TIMEOUT",
        DatabaseSettings.from_env,
        {"DATABASE_URL": DB_URL, "DATABASE_POOL_TIMEOUT": f"soon-{SECRET}"},
    ),
    ("OLLAMA_BASE_URL", ModelHostSettings.from_env, {"OLLAMA_BASE_URL": f"gpu-{SECRET}:11434"}),
    (
        "OLLAMA_BASE_URL",
        ModelHostSettings.from_env,
        {"OLLAMA_BASE_URLS": f"http://ok:1;ftp://user:{SECRET}@gpu:21"},
    ),
    (
        "OPENAI_API_BASE_URL",
        ModelHostSettings.from_env,
        {"OPENAI_API_BASE_URL": f"api.example/{SECRET}"},
    ),
    ("ENABLE_OLLAMA_API", ModelHostSettings.from_env, {"ENABLE_OLLAMA_API": SECRET}),
    ("STRATUS_HUMAN_LOGS", WebSettings.from_env, {"STRATUS_HUMAN_LOGS": SECRET}),
    ("STRATUS_READINESS_TIMEOUT", WebSettings.from_env, {"STRATUS_READINESS_TIMEOUT": SECRET}),
    ("STORAGE_PROVIDER", StorageSettings.from_env, {"STORAGE_PROVIDER": f"gcs-{SECRET}"}),
    ("DO_NOT_TRACK", TelemetrySettings.from_env, {"DO_NOT_TRACK": SECRET}),
]


@pytest.mark.parametrize(
    ("variable", "loader", "environ"),
    BAD_VALUES,
    ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(BAD_VALUES)],
)
def test_bad_value_names_the_variable_but_not_the_value(variable, loader, environ):
    with pytest.raises(ConfigError) as exc_info:
        loader(environ)
    message = _message(exc_info)
    assert variable in message
    assert SECRET not in message
    # ConfigError must not chain the parser's exception, whose text would carry the value.
    assert exc_info.value.__cause__ is None
    assert exc_info.value.__suppress_context__ or exc_info.value.__context__ is None


@given(st.text(min_size=1).map(lambda s: f"sk-{s}"))
def test_no_non_numeric_pool_size_ever_appears_in_the_error(value):
    env = {"DATABASE_URL": DB_URL, "DATABASE_POOL_SIZE": value}
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE") as exc_info:
        DatabaseSettings.from_env(env)
    assert value.strip() not in _message(exc_info)


@pytest.mark.parametrize("value", ["0", "-2"])
def test_pool_size_below_one_is_rejected(value):
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE"):
        DatabaseSettings.from_env({"DATABASE_URL": DB_URL, "DATABASE_POOL_SIZE": value})


# --- telemetry, storage, aws -------------------------------------------------------------------


def test_telemetry_variables_are_accepted():
    assert TelemetrySettings.from_env({}) == TelemetrySettings(
        do_not_track=True, anonymized_telemetry=False
    )
    settings = TelemetrySettings.from_env({"DO_NOT_TRACK": "false", "ANONYMIZED_TELEMETRY": "1"})
    assert settings.do_not_track is False
    assert settings.anonymized_telemetry is True


def test_telemetry_variables_do_not_disturb_other_sections():
    env = {"DO_NOT_TRACK": "true", "ANONYMIZED_TELEMETRY": "false", "DATABASE_URL": DB_URL}
    assert WebSettings.from_env(env) == WebSettings.from_env({})
    assert DatabaseSettings.from_env(env).url == DB_URL


def test_s3_storage_requires_a_bucket():
    with pytest.raises(ConfigError, match="S3_BUCKET_NAME"):
        StorageSettings.from_env({"STORAGE_PROVIDER": "s3"})
    settings = StorageSettings.from_env(
        {"STORAGE_PROVIDER": "S3", "S3_BUCKET_NAME": "b", "S3_KEY_PREFIX": "/uploads/"}
    )
    assert (settings.provider, settings.s3_bucket, settings.s3_key_prefix) == ("s3", "b", "uploads")


def test_upload_dir_defaults_under_the_data_dir(tmp_path):
    settings = StorageSettings.from_env({"STRATUS_DATA_DIR": str(tmp_path)})
    assert settings.provider == "local"
    assert settings.upload_dir == (tmp_path / "uploads").resolve()


def test_aws_endpoints_prefer_the_service_specific_variable():
    settings = AwsSettings.from_env(
        {
            "AWS_ENDPOINT_URL": "http://generic:1",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://ddb:2",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert settings.dynamodb_endpoint == "http://ddb:2"
    assert settings.s3_endpoint == "http://generic:1"
    assert settings.region == "eu-west-1"


# --- caching -----------------------------------------------------------------------------------


def test_settings_are_cached_until_reset(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    monkeypatch.setenv("DATABASE_POOL_SIZE", "2")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1")
    first_db, first_web = database_settings(), web_settings()
    assert first_db.pool_size == 2

    # WHEN the environment changes
    monkeypatch.setenv("DATABASE_POOL_SIZE", "7")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.2")
    # THEN the cached values stay until reset_settings()
    assert database_settings() is first_db
    assert web_settings() is first_web
    reset_settings()
    assert database_settings().pool_size == 7
    assert web_settings().forwarded_allow_ips == ("10.0.0.2",)


def test_a_config_error_is_raised_on_first_use_not_cached_as_success(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError):
        database_settings()
    monkeypatch.setenv("DATABASE_URL", DB_URL)
    # functools.cache does not cache exceptions: the fixed environment is picked up
    assert database_settings().url == DB_URL
