"""The CDK app: one stack, synthesized offline into a cloud assembly (``cdk.out``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

STACK_NAME = "Stratus"
# CDK feature flags this app relies on: a function's version changes when its layers change,
# so layers and functions are published together.
CONTEXT = {
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/aws-lambda:recognizeVersionProps": True,
    "@aws-cdk/core:stackRelativeExports": True,
    "@aws-cdk/aws-iam:minimizePolicies": False,
}


def quiet_node_warning() -> None:
    """jsii prints a banner on a Node.js past its end of life (this machine's is 20). It still
    works; the banner would only drown synth's output."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")


def synth(dist: Path, outdir: Path) -> Path:
    """Synthesize the stack from ``dist/``; returns the template's path."""
    quiet_node_warning()
    import aws_cdk as cdk

    from infra.cdk.artifacts import load_artifacts
    from infra.cdk.checkov import CheckovSkips
    from infra.cdk.stack import StratusStack
    from infra.cdk.web_build import build_web

    artifacts = load_artifacts(dist)
    app = cdk.App(outdir=str(outdir), context=dict(CONTEXT), analytics_reporting=False)
    # The web client's build, written where CDK copies it from into the cloud assembly.
    with tempfile.TemporaryDirectory(prefix="stratus-web-") as scratch:
        web = build_web(Path(scratch) / "web")
        stack = StratusStack(app, STACK_NAME, artifacts, web)
        cdk.Aspects.of(stack).add(CheckovSkips())
        assembly = app.synth()
    return Path(assembly.get_stack_by_name(STACK_NAME).template_full_path)
