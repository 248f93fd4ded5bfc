"""`python -m local.emulator`: serve the model-host emulator in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from local.emulator.app import create_app
from local.emulator.config import (
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
    defaults = EmulatorConfig()
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help=f"extra chat model name, repeatable ({', '.join(defaults.chat_models)} always served)",
    )
    parser.add_argument(
        "--think-model",
        action="append",
        default=[],
        metavar="NAME",
        help="extra thinking chat model name, repeatable "
        f"({', '.join(defaults.thinking_models)} always served)",
    )
    parser.add_argument(
        "--embed-model",
        action="append",
        default=[],
        metavar="NAME[=DIM]",
        help="extra embedding model, repeatable, with its vector size (default 384) "
        f"({', '.join(defaults.embed_models)} always served)",
    )
    parser.add_argument(
        "--minilm",
        metavar="NAME",
        help="serve the real all-MiniLM-L6-v2 (384 dims; the bench-embed extra) as model NAME",
    )
    parser.add_argument(
        "--embed-cache", metavar="FILE", help="cache the real model's vectors in this SQLite file"
    )
    parser.add_argument("--token-delay", type=float, metavar="SECONDS", help="pause per token")
    parser.add_argument("--require-api-key", metavar="KEY", help="require Bearer KEY")
    parser.add_argument("--fail-status", type=int, metavar="STATUS", help="fail model calls")
    for fault in ("reset", "error", "stall", "bad-json", "huge-chunk"):
        parser.add_argument(
            f"--{fault}-after", type=int, metavar="K", help=f"{fault} after K chunks"
        )
    parser.add_argument(
        "--unknown-fields", action="store_true", help="add unknown fields to every chunk"
    )
    parser.add_argument("--endless", action="store_true", help="streams never end")
    parser.add_argument(
        "--echo-grounded",
        action="store_true",
        help="echo a grounded prompt instead of quoting its best source sentence",
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
        "huge_chunk_after": args.huge_chunk_after,
        "unknown_fields": args.unknown_fields or None,
        "endless": args.endless or None,
        "echo_grounded": args.echo_grounded or None,
    }
    faults = Faults().with_changes({k: v for k, v in settings.items() if v is not None})
    defaults = EmulatorConfig()
    embed = [_embed_model(spec) for spec in args.embed_model]
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        chat_models=(*defaults.chat_models, *args.model),
        thinking_models=(*defaults.thinking_models, *args.think_model),
        embed_models=(*defaults.embed_models, *(name for name, _ in embed)),
        embed_dimensions=(
            *defaults.embed_dimensions,
            *((name, size) for name, size in embed if size is not None),
        ),
        faults=faults,
        stall_max_seconds=args.stall_max,
        minilm_model=args.minilm,
        embed_cache=args.embed_cache,
    )


def _embed_model(spec: str) -> tuple[str, int | None]:
    """`name` or `name=768`; raises ValueError for a size that is not a positive integer."""
    name, sep, size = spec.partition("=")
    if not sep:
        return name, None
    if not size.isdigit() or int(size) < 1:
        raise ValueError(f"--embed-model {spec}: the size after '=' must be a positive integer")
    return name, int(size)


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
