"""``python -m infra.cdk`` (``make synth``): write the CloudFormation template into cdk.out/.

Offline: it reads the artifacts ``make package`` built in dist/ and needs no AWS account.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.cdk.app import synth
from infra.cdk.artifacts import ArtifactsError
from infra.packaging.build import REPO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cdk", description=__doc__)
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="make package's output")
    parser.add_argument("--out", type=Path, default=REPO / "cdk.out", help="the cloud assembly")
    args = parser.parse_args(argv)
    try:
        template = synth(args.dist, args.out)
    except ArtifactsError as error:
        print(f"make synth failed: {error}", file=sys.stderr)
        return 1
    shown = template.relative_to(Path.cwd()) if template.is_relative_to(Path.cwd()) else template
    print(f"Synthesized {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
