"""AuthSettings: defaults, Open WebUI duration strings and the argon2 floor."""

from __future__ import annotations

import pytest

from stratus.auth.passwords import Argon2Parameters, Passwords
from stratus.errors import ConfigError
from stratus.settings import ARGON2_FLOOR, LONGEST_TOKEN_LIFETIME, AuthSettings


def test_defaults():
    settings = AuthSettings.from_env({})
    assert settings.jwt_expires_in == 24 * 3600
    assert settings.enable_signup is True
    assert settings.default_user_role == "pending"
    assert settings.enable_api_key is True
    assert (settings.login_max_failures, settings.login_window) == (10, 300)
    assert settings.login_max_failures_per_account == 50
    assert settings.login_max_failures_per_ip == 100
    assert settings.dev_mode is False


def test_the_per_account_limit_is_configurable_and_at_least_one():
    env = {"STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT": "7"}
    assert AuthSettings.from_env(env).login_max_failures_per_account == 7
    with pytest.raises(ConfigError, match="STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT"):
        AuthSettings.from_env({"STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT": "0"})


def test_production_argon2_defaults_are_at_or_above_the_owasp_floor():
    settings = AuthSettings.from_env({})
    params = Argon2Parameters.from_settings(settings)
    assert params == Argon2Parameters(time_cost=3, memory_kib=65536, parallelism=4)
    # OWASP: argon2id with m >= 19 MiB and t >= 2 (or an equal-cost trade of memory for time).
    assert params.memory_kib >= 19 * 1024
    assert params.time_cost >= 2
    assert settings.argon2_meets_floor
    encoded = Passwords(params)._hasher.hash("probe")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize(
    ("memory", "time_cost"), [(19 * 1024 - 1, 2), (19 * 1024, 1), (7 * 1024, 4), (1024, 1)]
)
def test_hashing_below_the_floor_needs_dev_mode(memory, time_cost):
    env = {"STRATUS_ARGON2_MEMORY_KIB": str(memory), "STRATUS_ARGON2_TIME_COST": str(time_cost)}
    with pytest.raises(ConfigError, match="OWASP"):
        AuthSettings.from_env(env)
    assert not AuthSettings.from_env({**env, "STRATUS_DEV_MODE": "true"}).argon2_meets_floor


def test_every_floor_variant_is_accepted():
    for memory, time_cost in ARGON2_FLOOR:
        env = {"STRATUS_ARGON2_MEMORY_KIB": str(memory), "STRATUS_ARGON2_TIME_COST": str(time_cost)}
        assert AuthSettings.from_env(env).argon2_meets_floor


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86400),
        ("30m", 1800),
        ("7d", 604800),
        ("4w", 2419200),
        ("1h30m", 5400),
        ("90s", 90),
        ("-1", LONGEST_TOKEN_LIFETIME),
        ("0", LONGEST_TOKEN_LIFETIME),
    ],
)
def test_jwt_expires_in_uses_open_webui_durations(text, seconds):
    assert AuthSettings.from_env({"JWT_EXPIRES_IN": text}).jwt_expires_in == seconds


@pytest.mark.parametrize("text", ["soon", "86400", "1y", "-5m", "500ms"])
def test_bad_durations_are_config_errors_that_name_the_variable(text):
    with pytest.raises(ConfigError, match="JWT_EXPIRES_IN") as raised:
        AuthSettings.from_env({"JWT_EXPIRES_IN": text})
    assert text not in str(raised.value)


def test_default_user_role_cannot_be_admin():
    with pytest.raises(ConfigError, match="DEFAULT_USER_ROLE"):
        AuthSettings.from_env({"DEFAULT_USER_ROLE": "admin"})
    assert AuthSettings.from_env({"DEFAULT_USER_ROLE": "USER"}).default_user_role == "user"


def test_a_password_change_ends_api_keys_unless_told_to_keep_them():
    assert AuthSettings.from_env({}).keep_api_keys_on_password_change is False
    env = {"STRATUS_KEEP_API_KEYS_ON_PASSWORD_CHANGE": "true"}
    assert AuthSettings.from_env(env).keep_api_keys_on_password_change is True
