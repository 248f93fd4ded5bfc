"""``python -m local`` (``make up``): run the whole Stratus stack on this machine."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from local.stack import DEFAULT_PORT, StackOptions, run
from stratus.env import EnvReader
from stratus.errors import ConfigError

MAX_PORT = 65535


def _default_port() -> int:
    """``PORT``, else Open WebUI's ``OPEN_WEBUI_PORT``, else 3000."""
    env = EnvReader(os.environ)
    name = "PORT" if env.optional("PORT") else "OPEN_WEBUI_PORT"
    port = env.integer(name, DEFAULT_PORT, minimum=1)
    if port > MAX_PORT:
        raise ConfigError(f"{name} must be at most {MAX_PORT}")
    return port


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM (from a process manager or a test) stops the stack as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument(
        "--emulate-model-host",
        action="store_true",
        help="start the deterministic Ollama emulator (ignored when OLLAMA_BASE_URL is set)",
    )
    parser.add_argument(
        "--model-host-idle-seconds",
        type=float,
        metavar="N",
        help="with --emulate-model-host: the emulator sleeps after N seconds without inference "
        "and the next inference request wakes it (scale-to-zero, as the GPU host in AWS)",
    )
    parser.add_argument(
        "--model-host-boot-seconds",
        type=float,
        default=5.0,
        metavar="B",
        help="with --model-host-idle-seconds: the simulated boot of a wake (default 5)",
    )
    parser.add_argument(
        "--lambda-mode",
        action="store_true",
        help="serve auth and rag through their real Mangum handlers, like sam local start-api",
    )
    parser.add_argument(
        "--port", type=int, default=_default_port(), help="default: PORT, OPEN_WEBUI_PORT or 3000"
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("STRATUS_DATA_DIR", "./data")),
        help="Postgres data, uploads, logs, secret key (default: STRATUS_DATA_DIR or ./data)",
    )
    parser.add_argument(
        "--human-logs", action="store_true", help="one readable line per log record instead of JSON"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except ConfigError as error:
        # Said the way the stack reports every configuration mistake: one line, no traceback.
        print(f"Stratus cannot start: {error.message}", file=sys.stderr)
        return 2
    if args.human_logs:
        os.environ["STRATUS_HUMAN_LOGS"] = "true"
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    options = StackOptions(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        emulate_model_host=args.emulate_model_host,
        lambda_mode=args.lambda_mode,
        model_host_idle_seconds=args.model_host_idle_seconds,
        model_host_boot_seconds=args.model_host_boot_seconds,
    )
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
