"""Typed settings, read from the environment in this one module and validated on first use.

Each section has its own cached loader so a function reads only what it needs: the auth function
never touches ``OLLAMA_BASE_URL``. Variable names follow Open WebUI's where one exists.
Call ``reset_settings()`` after changing ``os.environ`` (tests do).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from stratus.durations import parse_duration
from stratus.env import EnvReader
from stratus.errors import ConfigError


def in_lambda(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def _check_http_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL")
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class WebSettings:
    cors_allow_origins: tuple[str, ...]
    forwarded_allow_ips: tuple[str, ...]
    trust_adapter_context: bool
    # The secret CloudFront sends in x-stratus-origin-verify (stratus.web.client_ip); read at
    # init by stratus.runtime_secrets.
    cdn_origin_secret_arn: str | None
    log_level: str
    human_logs: bool
    expose_upstream_urls: bool
    readiness_timeout: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WebSettings:
        env = EnvReader(environ)
        origins = env.items("CORS_ALLOW_ORIGIN")
        if "*" in origins and len(origins) > 1:
            raise ConfigError("CORS_ALLOW_ORIGIN: '*' cannot be combined with other origins")
        return cls(
            cors_allow_origins=origins,
            # Trust no proxy unless told: on one host every client's peer is loopback, so a
            # loopback default would let anyone pick their own address. uvicorn's convention is
            # commas; semicolons are accepted like the other list variables.
            forwarded_allow_ips=env.items("FORWARDED_ALLOW_IPS", (), separators=",;"),
            # Only in Lambda is x-amzn-request-context written by the Web Adapter itself;
            # anywhere else a client could send it.
            trust_adapter_context=in_lambda(environ),
            cdn_origin_secret_arn=env.optional("STRATUS_CDN_ORIGIN_SECRET_ARN"),
            log_level=env.text("LOG_LEVEL", env.text("POWERTOOLS_LOG_LEVEL", "INFO")).upper(),
            human_logs=env.flag("STRATUS_HUMAN_LOGS", False),
            expose_upstream_urls=env.flag("STRATUS_EXPOSE_UPSTREAM_URLS", False),
            readiness_timeout=env.number("STRATUS_READINESS_TIMEOUT", 2.0, minimum=0.1),
        )


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``DATABASE_URL``, or ``DATABASE_URL_SECRET_ARN`` (read at init by
    ``stratus.runtime_secrets``); ``DATABASE_HOST``/``_PORT``/``_NAME`` complete or override a
    secret that holds RDS's JSON credentials."""

    url: str | None = field(repr=False)
    url_secret_arn: str | None
    host: str | None
    port: str | None
    name: str | None
    pool_size: int
    pool_timeout: float
    check_on_checkout: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> DatabaseSettings:
        env = EnvReader(environ)
        url = env.optional("DATABASE_URL")
        url_secret_arn = env.optional("DATABASE_URL_SECRET_ARN")
        if url and url_secret_arn:
            raise ConfigError("Set DATABASE_URL or DATABASE_URL_SECRET_ARN, not both")
        if not url and not url_secret_arn:
            raise ConfigError(
                "DATABASE_URL is not set (the local stack sets it for you; in AWS, "
                "DATABASE_URL_SECRET_ARN names a secret that holds it)"
            )
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL")
        port = env.optional("DATABASE_PORT")
        if port is not None:
            env.integer("DATABASE_PORT", 5432, minimum=1)
        lambda_env = in_lambda(environ)
        # One connection per execution environment in Lambda: RDS Proxy does the pooling.
        default_size = 1 if lambda_env else 5
        return cls(
            url=url,
            url_secret_arn=url_secret_arn,
            host=env.optional("DATABASE_HOST"),
            port=port,
            name=env.optional("DATABASE_NAME"),
            pool_size=env.integer("DATABASE_POOL_SIZE", default_size, minimum=1),
            pool_timeout=env.number("DATABASE_POOL_TIMEOUT", 5.0, minimum=0.1),
            # A thawed Lambda may hold a connection the proxy already closed.
            check_on_checkout=lambda_env,
        )


@dataclass(frozen=True, slots=True)
class AwsSettings:
    region: str
    dynamodb_table: str
    dynamodb_endpoint: str | None
    s3_endpoint: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AwsSettings:
        env = EnvReader(environ)
        return cls(
            region=env.first_set("AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1",
            dynamodb_table=env.text("STRATUS_DYNAMODB_TABLE", "stratus-ephemeral"),
            dynamodb_endpoint=env.first_set("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"),
            s3_endpoint=env.first_set("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
        )


@dataclass(frozen=True, slots=True)
class StorageSettings:
    provider: str
    upload_dir: Path
    s3_bucket: str | None
    s3_key_prefix: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> StorageSettings:
        env = EnvReader(environ)
        provider = env.text("STORAGE_PROVIDER", "local").lower()
        if provider not in {"local", "s3"}:
            raise ConfigError("STORAGE_PROVIDER must be 'local' or 's3'")
        bucket = env.optional("S3_BUCKET_NAME")
        if provider == "s3" and not bucket:
            raise ConfigError("S3_BUCKET_NAME is required when STORAGE_PROVIDER=s3")
        data_dir = Path(env.text("STRATUS_DATA_DIR", env.text("DATA_DIR", "./data")))
        return cls(
            provider=provider,
            upload_dir=Path(env.text("UPLOAD_DIR", str(data_dir / "uploads"))).resolve(),
            s3_bucket=bucket,
            s3_key_prefix=env.text("S3_KEY_PREFIX", "").strip("/"),
        )


@dataclass(frozen=True, slots=True)
class ModelHostSettings:
    ollama_base_urls: tuple[str, ...]
    ollama_api_key: str | None = field(repr=False)
    # Read at init by stratus.runtime_secrets instead of OLLAMA_API_KEY.
    ollama_api_key_secret_arn: str | None
    enable_ollama_api: bool
    openai_api_base_urls: tuple[str, ...]
    openai_api_keys: tuple[str, ...]
    enable_openai_api: bool
    connect_timeout: float
    read_timeout: float
    idle_timeout: float
    # Scale-to-zero (stratus.modelhost.waker): what wakes the Ollama hosts, and how long
    # requests are held while they wake.
    asg_name: str | None
    supervisor_url: str | None
    wake_hold_seconds: float
    hold_seconds: float
    heartbeat_seconds: float
    wake_poll_seconds: float

    @property
    def ollama_base_url(self) -> str:
        return self.ollama_base_urls[0]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ModelHostSettings:
        env = EnvReader(environ)
        ollama = env.items("OLLAMA_BASE_URLS") or (
            env.text("OLLAMA_BASE_URL", "http://localhost:11434"),
        )
        openai = env.items("OPENAI_API_BASE_URLS") or tuple(
            u for u in (env.optional("OPENAI_API_BASE_URL"),) if u
        )
        keys = env.items("OPENAI_API_KEYS") or tuple(
            k for k in (env.optional("OPENAI_API_KEY"),) if k
        )
        if openai and len(keys) not in {0, 1, len(openai)}:
            raise ConfigError("OPENAI_API_KEYS must have one key per OPENAI_API_BASE_URLS entry")
        api_key = env.optional("OLLAMA_API_KEY")
        api_key_arn = env.optional("OLLAMA_API_KEY_SECRET_ARN")
        if api_key and api_key_arn:
            raise ConfigError("Set OLLAMA_API_KEY or OLLAMA_API_KEY_SECRET_ARN, not both")
        return cls(
            ollama_base_urls=tuple(_check_http_url("OLLAMA_BASE_URL", u) for u in ollama),
            ollama_api_key=api_key,
            ollama_api_key_secret_arn=api_key_arn,
            enable_ollama_api=env.flag("ENABLE_OLLAMA_API", True),
            openai_api_base_urls=tuple(_check_http_url("OPENAI_API_BASE_URL", u) for u in openai),
            openai_api_keys=keys,
            enable_openai_api=env.flag("ENABLE_OPENAI_API", True),
            connect_timeout=env.number("STRATUS_MODEL_CONNECT_TIMEOUT", 3.0, minimum=0.05),
            read_timeout=env.number("STRATUS_MODEL_READ_TIMEOUT", 120.0, minimum=0.05),
            idle_timeout=env.number("STRATUS_MODEL_IDLE_TIMEOUT", 30.0, minimum=0.0),
            asg_name=env.optional("STRATUS_MODEL_HOST_ASG_NAME"),
            supervisor_url=_check_http_url(
                "STRATUS_MODEL_HOST_SUPERVISOR_URL", env.text("STRATUS_MODEL_HOST_SUPERVISOR_URL")
            )
            if env.optional("STRATUS_MODEL_HOST_SUPERVISOR_URL")
            else None,
            wake_hold_seconds=env.number(
                "STRATUS_MODEL_HOST_WAKE_HOLD_SECONDS", 300.0, minimum=1.0
            ),
            hold_seconds=env.number("STRATUS_MODEL_HOST_HOLD_SECONDS", 25.0, minimum=0.0),
            # SSE comments keep API Gateway, CloudFront and proxies from timing a held stream out.
            heartbeat_seconds=env.number(
                "STRATUS_MODEL_HOST_HEARTBEAT_SECONDS", 5.0, minimum=0.05, maximum=10.0
            ),
            wake_poll_seconds=env.number("STRATUS_MODEL_HOST_WAKE_POLL_SECONDS", 1.0, minimum=0.05),
        )


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """Accepted for compatibility with Open WebUI deployments. Stratus sends no telemetry at all."""

    do_not_track: bool
    anonymized_telemetry: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TelemetrySettings:
        env = EnvReader(environ)
        return cls(
            do_not_track=env.flag("DO_NOT_TRACK", True),
            anonymized_telemetry=env.flag("ANONYMIZED_TELEMETRY", False),
        )


@dataclass(frozen=True, slots=True)
class TracingSettings:
    """Where traces go (``stratus.observability.tracing``): an OTLP/HTTP endpoint from the
    standard OpenTelemetry variables (the SDK reads the rest of them itself: headers, timeouts,
    batching), else Lambda's X-Ray daemon when the function runs with active tracing."""

    otlp_endpoint: str | None
    xray_daemon_address: str | None
    service_name: str | None

    @property
    def enabled(self) -> bool:
        return bool(self.otlp_endpoint or self.xray_daemon_address)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TracingSettings:
        env = EnvReader(environ)
        name = env.optional("OTEL_SERVICE_NAME") or env.optional("POWERTOOLS_SERVICE_NAME")
        off = env.flag("OTEL_SDK_DISABLED", False) or (
            env.text("OTEL_TRACES_EXPORTER").lower() == "none"
        )
        if off:
            return cls(None, None, name)
        return cls(
            otlp_endpoint=env.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or env.optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
            xray_daemon_address=env.optional("AWS_XRAY_DAEMON_ADDRESS"),
            service_name=name,
        )


# OWASP's argon2id floor (m=19 MiB, t=2, p=1) and its equal-cost variants with less memory.
ARGON2_FLOOR = ((19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5))
# Tokens always carry ``exp``: Open WebUI's "-1" (never) becomes this long lifetime instead.
LONGEST_TOKEN_LIFETIME = 365 * 24 * 3600
USER_ROLES = ("pending", "user")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    secret_key: str | None = field(repr=False)
    secret_key_arn: str | None
    dev_mode: bool
    jwt_expires_in: int
    enable_signup: bool
    default_user_role: str
    enable_api_key: bool
    keep_api_keys_on_password_change: bool
    login_max_failures: int
    login_max_failures_per_account: int
    login_max_failures_per_ip: int
    login_window: int
    signup_max_per_ip: int
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AuthSettings:
        env = EnvReader(environ)
        role = env.text("DEFAULT_USER_ROLE", "pending").lower()
        if role not in USER_ROLES:
            raise ConfigError("DEFAULT_USER_ROLE must be 'pending' or 'user'")
        expires = parse_duration("JWT_EXPIRES_IN", env.text("JWT_EXPIRES_IN", "24h"))
        settings = cls(
            secret_key=env.optional("WEBUI_SECRET_KEY"),
            secret_key_arn=env.optional("STRATUS_SECRET_KEY_ARN"),
            dev_mode=env.flag("STRATUS_DEV_MODE", False),
            jwt_expires_in=LONGEST_TOKEN_LIFETIME if expires is None else expires,
            enable_signup=env.flag("ENABLE_SIGNUP", True),
            default_user_role=role,
            enable_api_key=env.flag("ENABLE_API_KEY", True),
            keep_api_keys_on_password_change=env.flag(
                "STRATUS_KEEP_API_KEYS_ON_PASSWORD_CHANGE", False
            ),
            login_max_failures=env.integer("STRATUS_LOGIN_MAX_FAILURES", 10, minimum=1),
            login_max_failures_per_account=env.integer(
                "STRATUS_LOGIN_MAX_FAILURES_PER_ACCOUNT", 50, minimum=1
            ),
            login_max_failures_per_ip=env.integer(
                "STRATUS_LOGIN_MAX_FAILURES_PER_IP", 100, minimum=1
            ),
            login_window=env.integer("STRATUS_LOGIN_WINDOW_SECONDS", 300, minimum=1),
            signup_max_per_ip=env.integer("STRATUS_SIGNUP_MAX_PER_IP", 20, minimum=0),
            # argon2-cffi's RFC 9106 low-memory profile: well above OWASP's floor.
            argon2_time_cost=env.integer("STRATUS_ARGON2_TIME_COST", 3, minimum=1),
            argon2_memory_kib=env.integer("STRATUS_ARGON2_MEMORY_KIB", 65536, minimum=8),
            argon2_parallelism=env.integer("STRATUS_ARGON2_PARALLELISM", 4, minimum=1),
        )
        if not settings.dev_mode and not settings.argon2_meets_floor:
            raise ConfigError(
                "STRATUS_ARGON2_* are below OWASP's argon2id floor (19 MiB, t=2); "
                "weaker hashing is allowed only with STRATUS_DEV_MODE=true"
            )
        return settings

    @property
    def argon2_meets_floor(self) -> bool:
        return any(
            self.argon2_memory_kib >= memory and self.argon2_time_cost >= time
            for memory, time in ARGON2_FLOOR
        )


def _per_model(name: str, raw: str | None) -> tuple[tuple[str, str], ...]:
    """``8192`` (every model) or ``llama3.2=8192;qwen*=32768;*=4096``: glob patterns, first match
    wins, ``*`` the default. Returned in order, as (pattern, value) pairs."""
    if not raw:
        return ()
    pairs: list[tuple[str, str]] = []
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        pattern, sep, value = part.rpartition("=")
        if not sep:
            pattern, value = "*", part
        if not pattern.strip() or not value.strip():
            raise ConfigError(f"{name} must look like 8192 or model=8192;*=4096")
        pairs.append((pattern.strip(), value.strip()))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """The chat function: stop watching, checkpoints, time limits, limits and model policy."""

    poll_interval: float
    checkpoint_interval: float
    stale_after: float
    deadline_margin: float
    max_generation_seconds: float
    first_byte_timeout: float
    max_line_bytes: int
    max_response_bytes: int
    requests_per_minute: int
    daily_token_budget: int
    limits_exempt_admins: bool
    user_models: tuple[str, ...]
    models_cache_seconds: float
    num_ctx: tuple[tuple[str, str], ...]
    keep_alive: tuple[tuple[str, str], ...]
    # What a non-admin may ask of the shared GPU (functions/chat/translate/shared_gpu.py).
    max_keep_alive_seconds: int
    max_num_ctx: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ChatSettings:
        env = EnvReader(environ)
        checkpoint = env.number("STRATUS_CHAT_CHECKPOINT_INTERVAL", 3.0, minimum=0.1)
        max_keep_alive = parse_duration(
            "STRATUS_MAX_KEEP_ALIVE", env.text("STRATUS_MAX_KEEP_ALIVE", "30m")
        )
        if max_keep_alive is None:
            raise ConfigError("STRATUS_MAX_KEEP_ALIVE must be a duration such as 30m, not -1")
        num_ctx = _per_model("STRATUS_MODEL_NUM_CTX", env.optional("STRATUS_MODEL_NUM_CTX"))
        for _, value in num_ctx:
            if not value.isdigit() or int(value) < 1:
                raise ConfigError("STRATUS_MODEL_NUM_CTX values must be whole numbers of tokens")
        return cls(
            poll_interval=env.number("STRATUS_CHAT_POLL_INTERVAL", 0.3, minimum=0.05),
            checkpoint_interval=checkpoint,
            # A streaming message not checkpointed for this long reads as interrupted.
            stale_after=env.number(
                "STRATUS_CHAT_STALE_AFTER", max(30.0, checkpoint * 4), minimum=checkpoint
            ),
            deadline_margin=env.number("STRATUS_CHAT_DEADLINE_MARGIN", 10.0, minimum=0.0),
            # API Gateway ends a streamed response after 15 minutes.
            max_generation_seconds=env.number("STRATUS_CHAT_MAX_SECONDS", 870.0, minimum=1.0),
            # Loading a large model onto the GPU can take minutes before the first token.
            first_byte_timeout=env.number("STRATUS_MODEL_FIRST_BYTE_TIMEOUT", 300.0, minimum=0.05),
            max_line_bytes=env.integer("STRATUS_UPSTREAM_MAX_LINE_BYTES", 1 << 20, minimum=1024),
            max_response_bytes=env.integer(
                "STRATUS_UPSTREAM_MAX_RESPONSE_BYTES", 32 << 20, minimum=1024
            ),
            requests_per_minute=env.integer("STRATUS_RATE_LIMIT_RPM", 60, minimum=0),
            daily_token_budget=env.integer("STRATUS_DAILY_TOKEN_BUDGET", 2_000_000, minimum=0),
            limits_exempt_admins=env.flag("STRATUS_LIMITS_EXEMPT_ADMINS", True),
            user_models=env.items("STRATUS_USER_MODELS"),
            models_cache_seconds=env.number("STRATUS_MODELS_CACHE_SECONDS", 10.0, minimum=0.0),
            num_ctx=num_ctx,
            keep_alive=_per_model(
                "STRATUS_MODEL_KEEP_ALIVE", env.optional("STRATUS_MODEL_KEEP_ALIVE")
            ),
            max_keep_alive_seconds=max_keep_alive,
            max_num_ctx=env.integer("STRATUS_MAX_NUM_CTX", 32768, minimum=256),
        )


EMBEDDING_ENGINES = ("ollama", "openai")
ASYNC_INGEST_MODES = ("local", "s3-event")
# Open WebUI's variable names for the two placeholders, so its templates work unchanged.
DEFAULT_RAG_TEMPLATE = """Answer the question using the numbered sources below. Cite the sources \
you use by their number in square brackets, like [1]. If the sources do not contain the answer, \
say that you do not know rather than guessing.

Sources:
{{CONTEXT}}

Question: {{QUERY}}"""


@dataclass(frozen=True, slots=True)
class RagSettings:
    """The rag function and the retrieval code chat shares: ingestion, embedding, search."""

    embedding_engine: str
    embedding_model: str
    embedding_dimensions: int
    embedding_batch_size: int
    openai_base_url: str | None
    openai_api_key: str | None = field(repr=False)
    chunk_size: int
    chunk_overlap: int
    top_k: int
    hybrid_search: bool
    template: str
    file_max_bytes: int
    inline_max_bytes: int
    async_ingest: str
    extract_timeout: float
    extract_memory_mb: int
    max_text_chars: int
    zip_max_uncompressed_bytes: int
    zip_max_ratio: float
    ingest_max_attempts: int
    processing_stale_seconds: float
    ef_search: int
    text_search_config: str
    rrf_k: float
    rrf_vector_weight: float
    rrf_text_weight: float
    chat_max_per_file: int
    exact_search_max_chunks: int
    max_scan_tuples: int
    upload_url_seconds: int
    status_stream_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RagSettings:
        env = EnvReader(environ)
        engine = env.text("RAG_EMBEDDING_ENGINE", "ollama").lower()
        if engine not in EMBEDDING_ENGINES:
            raise ConfigError("RAG_EMBEDDING_ENGINE must be 'ollama' or 'openai'")
        chunk_size = env.integer("CHUNK_SIZE", 1000, minimum=100)
        overlap = env.integer("CHUNK_OVERLAP", 100, minimum=0)
        if overlap >= chunk_size // 2:
            raise ConfigError("CHUNK_OVERLAP must be less than half of CHUNK_SIZE")
        template = env.text("RAG_TEMPLATE", DEFAULT_RAG_TEMPLATE)
        if "{{CONTEXT}}" not in template:
            raise ConfigError("RAG_TEMPLATE must contain {{CONTEXT}}")
        openai_url = env.optional("RAG_OPENAI_API_BASE_URL")
        storage = env.text("STORAGE_PROVIDER", "local").lower()
        default_mode = "s3-event" if storage == "s3" and in_lambda(environ) else "local"
        mode = env.text("STRATUS_RAG_ASYNC_INGEST", default_mode).lower()
        if mode not in ASYNC_INGEST_MODES:
            raise ConfigError("STRATUS_RAG_ASYNC_INGEST must be 'local' or 's3-event'")
        max_mb = env.number("RAG_FILE_MAX_SIZE", 20.0, minimum=0.001)
        return cls(
            embedding_engine=engine,
            embedding_model=env.text("RAG_EMBEDDING_MODEL", "nomic-embed-text"),
            embedding_dimensions=env.integer("STRATUS_RAG_EMBEDDING_DIMENSIONS", 768, minimum=1),
            embedding_batch_size=env.integer("RAG_EMBEDDING_BATCH_SIZE", 64, minimum=1),
            openai_base_url=_check_http_url("RAG_OPENAI_API_BASE_URL", openai_url)
            if openai_url
            else None,
            openai_api_key=env.optional("RAG_OPENAI_API_KEY"),
            chunk_size=chunk_size,
            chunk_overlap=overlap,
            top_k=env.integer("RAG_TOP_K", 3, minimum=1),
            hybrid_search=env.flag("ENABLE_RAG_HYBRID_SEARCH", True),
            template=template,
            # Open WebUI's unit: megabytes.
            file_max_bytes=int(max_mb * 1024 * 1024),
            inline_max_bytes=env.integer("STRATUS_RAG_INLINE_MAX_BYTES", 512 * 1024, minimum=0),
            async_ingest=mode,
            extract_timeout=env.number("STRATUS_RAG_EXTRACT_TIMEOUT", 30.0, minimum=0.5),
            extract_memory_mb=env.integer("STRATUS_RAG_EXTRACT_MEMORY_MB", 512, minimum=64),
            max_text_chars=env.integer("STRATUS_RAG_MAX_TEXT_CHARS", 5_000_000, minimum=1000),
            zip_max_uncompressed_bytes=env.integer(
                "STRATUS_RAG_ZIP_MAX_UNCOMPRESSED_MB", 100, minimum=1
            )
            * 1024
            * 1024,
            zip_max_ratio=env.number("STRATUS_RAG_ZIP_MAX_RATIO", 100.0, minimum=1.0),
            ingest_max_attempts=env.integer("STRATUS_RAG_INGEST_MAX_ATTEMPTS", 3, minimum=1),
            # A claim older than this is a worker that died; Lambda's longest run is 15 minutes.
            processing_stale_seconds=env.number(
                "STRATUS_RAG_PROCESSING_STALE_SECONDS", 900.0, minimum=1.0
            ),
            ef_search=env.integer("STRATUS_RAG_EF_SEARCH", 200, minimum=10),
            text_search_config=_text_search_config(
                env.text("STRATUS_RAG_TEXT_SEARCH_CONFIG", "english")
            ),
            rrf_k=env.number("STRATUS_RAG_RRF_K", 60.0, minimum=0.0),
            rrf_vector_weight=env.number("STRATUS_RAG_RRF_VECTOR_WEIGHT", 1.0, minimum=0.0),
            rrf_text_weight=env.number("STRATUS_RAG_RRF_TEXT_WEIGHT", 1.0, minimum=0.0),
            chat_max_per_file=env.integer("STRATUS_RAG_CHAT_MAX_PER_FILE", 2, minimum=1),
            exact_search_max_chunks=env.integer(
                "STRATUS_RAG_EXACT_SEARCH_MAX_CHUNKS", 20_000, minimum=0
            ),
            max_scan_tuples=env.integer("STRATUS_RAG_MAX_SCAN_TUPLES", 200_000, minimum=1000),
            upload_url_seconds=env.integer("STRATUS_RAG_UPLOAD_URL_SECONDS", 900, minimum=60),
            status_stream_seconds=env.number(
                "STRATUS_RAG_STATUS_STREAM_SECONDS", 25.0, minimum=0.0
            ),
        )


_TEXT_SEARCH_CONFIG = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _text_search_config(value: str) -> str:
    """A Postgres text search configuration's name (``english``, ``simple``, ``german``...)."""
    name = value.strip().lower()
    if not _TEXT_SEARCH_CONFIG.fullmatch(name):
        raise ConfigError(
            "STRATUS_RAG_TEXT_SEARCH_CONFIG must name a Postgres text search configuration "
            "(english, simple, german, ...)"
        )
    return name


@functools.cache
def web_settings() -> WebSettings:
    return WebSettings.from_env(os.environ)


@functools.cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings.from_env(os.environ)


@functools.cache
def aws_settings() -> AwsSettings:
    return AwsSettings.from_env(os.environ)


@functools.cache
def storage_settings() -> StorageSettings:
    return StorageSettings.from_env(os.environ)


@functools.cache
def model_host_settings() -> ModelHostSettings:
    return ModelHostSettings.from_env(os.environ)


@functools.cache
def auth_settings() -> AuthSettings:
    return AuthSettings.from_env(os.environ)


@functools.cache
def chat_settings() -> ChatSettings:
    return ChatSettings.from_env(os.environ)


@functools.cache
def rag_settings() -> RagSettings:
    return RagSettings.from_env(os.environ)


_LOADERS = (
    web_settings,
    database_settings,
    aws_settings,
    storage_settings,
    model_host_settings,
    auth_settings,
    chat_settings,
    rag_settings,
)


def reset_settings() -> None:
    for loader in _LOADERS:
        loader.cache_clear()
