"""Secrets read from Secrets Manager at init: the database URL, the model host's token and the
secret CloudFront proves itself with.

In AWS the functions get ARNs, not values: ``DATABASE_URL_SECRET_ARN``,
``OLLAMA_API_KEY_SECRET_ARN`` and ``STRATUS_CDN_ORIGIN_SECRET_ARN`` (the signing key's is
``STRATUS_SECRET_KEY_ARN``). The entry
points read each configured secret once at init (``require_runtime_secrets``) over a client
closed right after, as the signing key is read, so no connection outlives init; the values stay
in memory, and a SnapStart snapshot holds them as it holds the signing key. Without an ARN the
plain variable is used and nothing here touches the network (nor imports boto3).

A secret that can't be read or doesn't hold what is expected stops the process with a
``ConfigError`` naming the variable, never the value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from stratus.errors import ConfigError
from stratus.settings import (
    DatabaseSettings,
    ModelHostSettings,
    WebSettings,
    aws_settings,
    database_settings,
    model_host_settings,
    web_settings,
)

S = TypeVar("S")

# The settings that name the secrets, as errors name them.
DATABASE_URL_SECRET_ARN = "DATABASE_URL_SECRET_ARN"  # noqa: S105 (a variable name)
OLLAMA_API_KEY_SECRET_ARN = "OLLAMA_API_KEY_SECRET_ARN"  # noqa: S105 (a variable name)
CDN_ORIGIN_SECRET_ARN = "STRATUS_CDN_ORIGIN_SECRET_ARN"  # noqa: S105 (a variable name)
URL_SCHEMES = ("postgresql://", "postgres://")
# The fields of the secret RDS generates for a database's master user (the stack's own).
RDS_FIELDS = ("username", "password", "host", "port", "dbname")


def read_secret(variable: str, secret_id: str) -> str:
    """The secret's text, read over a client closed right after: no connection stays open in
    the process, nor in a SnapStart snapshot. ``variable`` names the setting in errors."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(region_name=aws_settings().region, connect_timeout=2, read_timeout=5)
    client = boto3.client("secretsmanager", config=config)
    try:
        value = SecretsProvider(boto3_client=client).get(secret_id)
    except (GetParameterError, BotoCoreError, ClientError) as exc:
        reason = _reason(exc)
        raise ConfigError(f"{variable}: the secret could not be read ({reason})") from None
    finally:
        client.close()
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{variable}: the secret is binary, not text") from None
    return value if isinstance(value, str) else ""


def _reason(exc: Exception) -> str:
    """The AWS error code (ResourceNotFoundException, AccessDeniedException...), else the type.
    Powertools wraps the client's error; its message never carries the secret's value."""
    cause = exc.__cause__ or exc.__context__
    for candidate in (exc, cause):
        response = getattr(candidate, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if isinstance(code, str) and code:
                return code
    return type(cause or exc).__name__


def database_url(settings: DatabaseSettings) -> str:
    """``DATABASE_URL``, or the URL the secret at ``DATABASE_URL_SECRET_ARN`` gives (read once
    per process)."""
    return _database_url(settings)


@functools.cache
def _database_url(settings: DatabaseSettings) -> str:
    if settings.url_secret_arn is None:
        assert settings.url is not None  # DatabaseSettings requires one of the two
        return settings.url
    value = read_secret(DATABASE_URL_SECRET_ARN, settings.url_secret_arn).strip()
    return url_from_secret(value, settings)


def url_from_secret(value: str, settings: DatabaseSettings) -> str:
    """A ``postgresql://`` URL as it is, or RDS's JSON credentials made into one.

    RDS names the instance's own host in its secret; ``DATABASE_HOST``, ``DATABASE_PORT`` and
    ``DATABASE_NAME`` take precedence, so the functions connect through RDS Proxy with the
    credentials RDS generated (and rotates). RDS and its proxy always offer TLS, so the URL
    requires it, except for a Unix socket directory (a host starting with '/')."""
    if value.startswith(URL_SCHEMES):
        return value
    fields = _json_object(value)
    if fields is None:
        raise ConfigError(
            f"{DATABASE_URL_SECRET_ARN}: the secret is neither a postgresql:// URL nor a JSON "
            f"object with {', '.join(RDS_FIELDS)}"
        )
    host = settings.host or _field(fields, "host")
    port = settings.port or _field(fields, "port") or "5432"
    name = settings.name or _field(fields, "dbname")
    missing = [
        label
        for label, present in (
            ("username", _field(fields, "username")),
            # Present, even if empty (a local server may trust its clients).
            ("password", fields.get("password") is not None),
            ("host (or DATABASE_HOST)", host),
            ("dbname (or DATABASE_NAME)", name),
        )
        if not present
    ]
    if missing:
        raise ConfigError(
            f"{DATABASE_URL_SECRET_ARN}: the secret's JSON lacks {', '.join(missing)}"
        )
    user = quote(_field(fields, "username"), safe="")
    password = quote(_field(fields, "password"), safe="")
    database = quote(name, safe="")
    if host.startswith("/"):
        return f"postgresql://{user}:{password}@/{database}?host={quote(host, safe='')}"
    return f"postgresql://{user}:{password}@{host}:{port}/{database}?sslmode=require"


def _json_object(value: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _field(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return "" if value is None else str(value)


def ollama_api_key(settings: ModelHostSettings) -> str | None:
    """``OLLAMA_API_KEY``, or the secret at ``OLLAMA_API_KEY_SECRET_ARN`` (read once)."""
    return _ollama_api_key(settings)


@functools.cache
def _ollama_api_key(settings: ModelHostSettings) -> str | None:
    if settings.ollama_api_key_secret_arn is None:
        return settings.ollama_api_key
    value = read_secret(OLLAMA_API_KEY_SECRET_ARN, settings.ollama_api_key_secret_arn).strip()
    if not value:
        raise ConfigError(f"{OLLAMA_API_KEY_SECRET_ARN}: the secret is empty")
    return value


def cdn_origin_secret(settings: WebSettings) -> str | None:
    """The value CloudFront sends in ``x-stratus-origin-verify``, from the secret at
    ``STRATUS_CDN_ORIGIN_SECRET_ARN`` (read once); None when that is not set."""
    return _cdn_origin_secret(settings)


@functools.cache
def _cdn_origin_secret(settings: WebSettings) -> str | None:
    if settings.cdn_origin_secret_arn is None:
        return None
    value = read_secret(CDN_ORIGIN_SECRET_ARN, settings.cdn_origin_secret_arn).strip()
    if not value:
        # An empty secret would let an empty header vouch for any address.
        raise ConfigError(f"{CDN_ORIGIN_SECRET_ARN}: the secret is empty")
    return value


def require_runtime_secrets() -> None:
    """Read every secret an ARN names, at init: a missing or unreadable one stops the process
    now, not at the first request. Other configuration errors in those sections are left to
    the first use that needs them, as before (liveness needs no database settings)."""
    _read_if_named(database_settings, lambda s: s.url_secret_arn, database_url)
    _read_if_named(model_host_settings, lambda s: s.ollama_api_key_secret_arn, ollama_api_key)
    _read_if_named(web_settings, lambda s: s.cdn_origin_secret_arn, cdn_origin_secret)


def _read_if_named(
    load: Callable[[], S], arn: Callable[[S], str | None], read: Callable[[S], object]
) -> None:
    try:
        settings = load()
    except ConfigError:
        return
    if arn(settings) is not None:
        read(settings)


def reset_runtime_secrets() -> None:
    _database_url.cache_clear()
    _ollama_api_key.cache_clear()
    _cdn_origin_secret.cache_clear()
