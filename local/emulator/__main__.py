"""`python -m local.emulator`: serve the model-host emulator in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from local.emulator.app import create_app
from local.emulator.config import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBED_MODEL,
    DEFAULT_PORT,
    EmulatorConfig,
)
from local.emulator.faults import Faults
from local.emulator.server import make_server


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.emulator",
        description="Deterministic stand-in for an Ollama model host (native and /v1 APIs).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help=f"extra chat model name, repeatable ({DEFAULT_CHAT_MODEL} is always served)",
    )
    parser.add_argument(
        "--embed-model",
        action="append",
        default=[],
        metavar="NAME",
        help=f"extra embedding model name, repeatable ({DEFAULT_EMBED_MODEL} is always served)",
    )
    parser.add_argument("--token-delay", type=float, metavar="SECONDS", help="pause per token")
    parser.add_argument("--require-api-key", metavar="KEY", help="require Bearer KEY")
    parser.add_argument("--fail-status", type=int, metavar="STATUS", help="fail model calls")
    for fault in ("reset", "error", "stall", "bad-json"):
        parser.add_argument(
            f"--{fault}-after", type=int, metavar="K", help=f"{fault} after K chunks"
        )
    parser.add_argument(
        "--stall-max", type=float, default=120.0, metavar="SECONDS", help="longest stall"
    )
    parser.add_argument("--log-level", default="info")
    return parser


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    """Raises ValueError for an invalid fault setting."""
    settings: dict[str, Any] = {
        "token_delay": args.token_delay,
        "require_api_key": args.require_api_key,
        "fail_status": args.fail_status,
        "reset_after": args.reset_after,
        "error_after": args.error_after,
        "stall_after": args.stall_after,
        "bad_json_after": args.bad_json_after,
    }
    faults = Faults().with_changes({k: v for k, v in settings.items() if v is not None})
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        chat_models=(DEFAULT_CHAT_MODEL, *args.model),
        embed_models=(DEFAULT_EMBED_MODEL, *args.embed_model),
        faults=faults,
        stall_max_seconds=args.stall_max,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = build_config(args)
    except ValueError as exc:
        parser.error(str(exc))
    app = create_app(config)
    models = ", ".join(entry.name for entry in app.state.catalog.entries)
    print(f"model-host emulator on http://{config.host}:{config.port} ({models})", flush=True)
    server = make_server(app, host=config.host, port=config.port, log_level=args.log_level)
    # uvicorn re-raises Ctrl-C after its graceful shutdown; for a dev server that is a normal exit.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
