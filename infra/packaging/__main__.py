"""``python -m infra.packaging`` (``make package``): build the Lambda artifacts into dist/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.packaging.build import (
    REPO,
    UNZIPPED_LIMIT,
    PackageTooLargeError,
    build_all,
    check_sizes,
    size_table,
)
from infra.packaging.target import LAMBDA
from infra.packaging.wheels import WheelCacheError, WheelMismatchError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.packaging", description=__doc__)
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output (emptied first)")
    parser.add_argument(
        "--wheel-cache",
        type=Path,
        default=REPO / "build" / "cache" / "wheels" / f"{LAMBDA.runtime}-{LAMBDA.machine}",
        help="downloaded wheels, kept between builds",
    )
    parser.add_argument(
        "--max-unzipped-bytes",
        type=int,
        default=UNZIPPED_LIMIT,
        help="fail if a function with its layers is larger, unzipped (default: Lambda's limit)",
    )
    args = parser.parse_args(argv)
    try:
        report = build_all(args.dist, args.wheel_cache, LAMBDA)
        print(f"Built for Lambda {LAMBDA.runtime} on {LAMBDA.architecture} in {args.dist}:")
        print(size_table(report))
        check_sizes(report, args.max_unzipped_bytes)
    except (WheelCacheError, WheelMismatchError, PackageTooLargeError) as error:
        print(f"make package failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
