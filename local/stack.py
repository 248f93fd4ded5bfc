"""The local stack: the whole product on one machine, in the foreground, on embedded defaults.

Start-up runs the slow parts side by side: moto's server boots in a child process while the
embedded Postgres starts and migrations run. Every child stops on Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from local.children import Children, free_port, http_ok, wait_until
from local.postgres import start_embedded_postgres
from local.secret_key import ensure_secret_key
from local.summary import StackFacts, print_summary, probe_model_host
from stratus.auth.secret import require_signing_key
from stratus.errors import ConfigError

DEFAULT_PORT = 3000


@dataclass(frozen=True)
class StackOptions:
    data_dir: Path
    host: str
    port: int
    emulate_model_host: bool
    lambda_mode: bool
    # Scale-to-zero for the emulated host (local/model_host_supervisor.py); None: always on.
    model_host_idle_seconds: float | None = None
    model_host_boot_seconds: float = 5.0


def _set_default(name: str, value: str) -> None:
    # Empty counts as unset, as in settings: compose passes `${WEBUI_SECRET_KEY:-}` through.
    if not os.environ.get(name):
        os.environ[name] = value


def _aws_endpoint_configured() -> bool:
    return any(os.environ.get(n) for n in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"))


def run(options: StackOptions) -> int:
    """Run until Ctrl-C or SIGTERM, which stop the children however far start-up got."""
    try:
        with suppress(KeyboardInterrupt):
            _run(options)
    except ConfigError as error:
        # A configuration mistake is the operator's to fix: say what, without a traceback.
        print(f"Stratus cannot start: {error.message}", file=sys.stderr)
        return 2
    print("Stratus stopped.", file=sys.stderr)
    return 0


def _run(options: StackOptions) -> None:
    started = time.monotonic()
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    facts = StackFacts(data_dir=data_dir, lambda_mode=options.lambda_mode)
    children = Children(log_dir=data_dir / "logs")
    with ExitStack() as cleanup:
        cleanup.callback(children.stop_all)
        moto = None
        if not _aws_endpoint_configured():
            port = free_port()
            moto = children.start(
                "dynamodb",
                ["-m", "local.atomic_moto", "--host", "127.0.0.1", "--port", str(port)],
                f"http://127.0.0.1:{port}",
            )
            os.environ.update(_emulated_aws_env(moto.url))
        facts.dynamodb = (
            f"emulated by moto on {moto.url}"
            if moto
            else f"AWS endpoint {os.environ.get('AWS_ENDPOINT_URL_DYNAMODB') or 'from AWS config'}"
        )

        if os.environ.get("DATABASE_URL"):
            facts.postgres = "external (DATABASE_URL)"
        else:
            postgres = start_embedded_postgres(data_dir / "postgres")
            cleanup.callback(postgres.stop)
            os.environ["DATABASE_URL"] = postgres.database_url
            facts.postgres = f"embedded, data in {data_dir / 'postgres'}"

        from stratus.migrations import apply_migrations

        facts.migrations_applied = apply_migrations(os.environ["DATABASE_URL"])

        emulator = None
        if options.emulate_model_host and os.environ.get("OLLAMA_BASE_URL"):
            facts.notes.append(
                "--emulate-model-host ignored: OLLAMA_BASE_URL is set and a real host always wins"
            )
        elif options.emulate_model_host and options.model_host_idle_seconds is not None:
            port, control = free_port(), free_port()
            emulator = children.start(
                "model-host supervisor",
                [
                    "-m",
                    "local.model_host_supervisor",
                    "--port",
                    str(port),
                    "--control-port",
                    str(control),
                    "--idle-seconds",
                    str(options.model_host_idle_seconds),
                    "--boot-seconds",
                    str(options.model_host_boot_seconds),
                ],
                f"http://127.0.0.1:{control}",
            )
            os.environ["OLLAMA_BASE_URL"] = f"http://127.0.0.1:{port}"
            os.environ["STRATUS_MODEL_HOST_SUPERVISOR_URL"] = emulator.url
            facts.emulated_model_host = True
            facts.notes.append(
                f"the emulated model host sleeps after {options.model_host_idle_seconds:g} s "
                f"without inference; the next request wakes it "
                f"({options.model_host_boot_seconds:g} s)"
            )
        elif options.emulate_model_host:
            port = free_port()
            emulator = children.start(
                "model-host emulator",
                ["-m", "local.emulator", "--host", "127.0.0.1", "--port", str(port)],
                f"http://127.0.0.1:{port}",
            )
            os.environ["OLLAMA_BASE_URL"] = emulator.url
            facts.emulated_model_host = True

        _configure_app_env(options)
        # Refuse a weak WEBUI_SECRET_KEY now, as a Lambda cold start does, not per request.
        require_signing_key()

        if moto:
            wait_until(http_ok(moto.url + "/moto-api/"), timeout=30, what="moto", child=moto)
        from stratus.ephemeral.table import create_table

        create_table()
        if emulator:
            # The emulator answers /api/version; the supervisor's control API answers /state.
            supervised = options.model_host_idle_seconds is not None
            url = emulator.url + ("/state" if supervised else "/api/version")
            wait_until(http_ok(url), timeout=30, what="the emulator", child=emulator)
            if supervised:
                _learn_models()

        facts.model_host_url = os.environ.get("OLLAMA_BASE_URL", "http://localhost:11434")
        facts.model_host_status = probe_model_host(facts.model_host_url)
        facts.notes.extend(f"{c.name} log: {c.log_path}" for c in children.running)
        _StackServer(_build_app(options), options, facts, started).run()


def _learn_models() -> None:
    """A supervised emulator may fall asleep before anyone asks for a model: list its models now,
    through the app's own catalog, so that every instance knows them while it sleeps."""
    import asyncio

    async def learn() -> None:
        from stratus.db import close_pool
        from stratus.modelhost import close_model_host, get_model_host

        host = await get_model_host()
        try:
            await host.catalog.models(host.http, refresh=True)
        finally:
            await close_model_host()
            await close_pool()

    asyncio.run(learn())


def _emulated_aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        # moto accepts any credentials; real ones must never be sent to an emulator.
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
    }


def _configure_app_env(options: StackOptions) -> None:
    from stratus.settings import reset_settings

    data_dir = options.data_dir.resolve()
    _set_default("STRATUS_DATA_DIR", str(data_dir))
    _set_default("WEBUI_SECRET_KEY", ensure_secret_key(data_dir))
    # The operator is the user here, so a 503 may name the model host URL it could not reach.
    _set_default("STRATUS_EXPOSE_UPSTREAM_URLS", "true")
    reset_settings()


def _build_app(options: StackOptions) -> Any:
    if options.lambda_mode:
        from local.lambda_bridge import create_lambda_mode_app

        return create_lambda_mode_app()
    from local.composed import create_local_app

    return create_local_app()


class _StackServer(uvicorn.Server):
    """uvicorn, printing the start-up summary once it is really listening."""

    def __init__(self, app: Any, options: StackOptions, facts: StackFacts, started: float):
        config = uvicorn.Config(
            app,
            host=options.host,
            port=options.port,
            lifespan="on",
            # The same server stack as the chat function under the Web Adapter (run.sh).
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level="warning",
            proxy_headers=False,
            timeout_graceful_shutdown=5,
        )
        super().__init__(config)
        self._facts = facts
        self._options = options
        self._started = started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._facts.base_url = f"http://{self._options.host}:{self._options.port}"
            self._facts.startup_seconds = time.monotonic() - self._started
            print_summary(self._facts)
