"""The functions: one architecture, a SnapStart-capable runtime, sizes chosen on purpose,
versions published with their layers, the Web Adapter for chat, logs kept for a set time."""

from __future__ import annotations

from pathlib import Path

from infra.cdk import profiles
from infra.cdk.artifacts import load_artifacts
from infra.cdk.parameters import WEB_ADAPTER_LAYER
from infra.gpu_host.user_data import HostParameters
from stratus.web.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH
from tests.infra.helpers import (
    APP_FUNCTIONS,
    CDK_UPLOADER,
    Template,
    alias_ids,
    env,
    function,
    function_ids,
    joined,
    own_layers,
    refs,
    resources,
)

PROFILES = {p.name: p for p in (profiles.AUTH, profiles.CHAT, profiles.RAG, profiles.RAG_INGEST)}


def test_every_function_is_arm64_on_a_snapstart_runtime(template: Template) -> None:
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        props = resource["Properties"]
        runtime = props["Runtime"]
        if runtime.startswith("nodejs"):
            continue  # CDK's provider framework for the migrations custom resource
        assert runtime.startswith("python3."), logical_id
        # SnapStart for Python starts at 3.12; the package targets exactly this runtime.
        assert int(runtime.removeprefix("python3.")) >= 12, logical_id
        if logical_id.startswith("CustomVpcRestrictDefaultSG"):
            continue
        if not logical_id.startswith(CDK_UPLOADER):  # CDK's own runtime, python3.13
            assert runtime == "python3.12", logical_id
        assert props["Architectures"] == ["arm64"], logical_id


def test_the_package_was_built_for_the_runtime_deployed(template: Template, dist: Path) -> None:
    artifacts = load_artifacts(dist)
    for name in APP_FUNCTIONS:
        assert function(template, name)["Runtime"] == artifacts.runtime
        assert function(template, name)["Architectures"] == [artifacts.architecture]


def test_sizes_and_time_limits_are_the_chosen_ones(template: Template) -> None:
    for name, profile in PROFILES.items():
        props = function(template, name)
        assert props["MemorySize"] == profile.memory_mb, name
        assert props["Timeout"] == profile.timeout_seconds, name
        assert props["Handler"] == profile.handler, name
    # One full vCPU for argon2 (1,769 MB), one lane: p=4 would only take turns on it.
    assert function(template, "auth")["MemorySize"] == 1769
    assert env(template, "auth")["STRATUS_ARGON2_PARALLELISM"] == "1"
    # Sign-in peaks at ~145 MB with argon2's 64 MiB: room to spare.
    assert function(template, "auth")["MemorySize"] > 3 * 145
    # Long generations: Lambda's longest run, API Gateway's streaming limit.
    assert function(template, "chat")["Timeout"] == 900
    for name in ("auth", "rag"):
        assert function(template, name)["Timeout"] <= profiles.BUFFERED_INTEGRATION_SECONDS
    assert function(template, "rag-ingest")["Handler"] == profiles.RAG_INGEST_HANDLER


def test_snapstart_on_every_published_function(template: Template) -> None:
    for name in APP_FUNCTIONS:
        assert function(template, name)["SnapStart"] == {"ApplyOn": "PublishedVersions"}, name
    # SnapStart applies to published versions only: everything is invoked through `live`.
    versions = resources(template, "AWS::Lambda::Version")
    aliases = resources(template, "AWS::Lambda::Alias")
    for name, alias_id in alias_ids(template).items():
        alias = aliases[alias_id]["Properties"]
        assert alias["Name"] == "live"
        (version_id,) = refs(alias["FunctionVersion"])
        assert version_id in versions
        assert refs(versions[version_id]["Properties"]["FunctionName"]) == {
            function_ids(template)[name]
        }


def test_layers_and_functions_are_one_release(template: Template, dist: Path) -> None:
    release = load_artifacts(dist).release
    layers = own_layers(template)
    assert {p["Properties"]["Description"] for p in layers.values()} == {
        f"dependencies, {release}",
        f"stratus, {release}",
    }
    for name in APP_FUNCTIONS:
        props = function(template, name)
        # A function's description is part of its version: a changed artifact, any of them,
        # publishes a new version of every function (and CDK's recognizeLayerVersion flag
        # makes a new layer version do the same).
        description = f"stratus {name}, release {release}"
        if name in {"auth", "chat", "rag"}:  # and CloudFront's secret rotation (test_api_guard)
            rotation = "${OriginVerifyRotation}"
            assert (
                joined(props["Description"]) == f"{description}, origin secret rotation {rotation}"
            )
        else:
            assert props["Description"] == description
        assert set(layers) <= refs(props["Layers"]), name
        for layer in layers.values():
            assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
            assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_chat_runs_under_the_web_adapter_in_response_stream_mode(template: Template) -> None:
    variables = env(template, "chat")
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    # The paths the app answers the adapter's SnapStart hooks on.
    assert variables["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] == BEFORE_CHECKPOINT_PATH
    assert variables["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] == AFTER_RESTORE_PATH
    assert function(template, "chat")["Handler"] == "functions/chat/run.sh"
    (adapter,) = [layer for layer in function(template, "chat")["Layers"] if "Fn::If" in layer]
    condition, default, given = adapter["Fn::If"]
    assert WEB_ADAPTER_LAYER in default["Fn::Sub"]
    assert "${AWS::Region}" in default["Fn::Sub"]
    assert given == {"Ref": "WebAdapterLayerArn"}
    assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": "WebAdapterLayerArn"}, ""]}
    for name in ("auth", "rag", "rag-ingest"):
        assert not any("Fn::If" in layer for layer in function(template, name)["Layers"])


def test_chat_concurrency_stays_within_what_the_gpu_host_queues(template: Template) -> None:
    assert function(template, "chat")["ReservedConcurrentExecutions"] == {
        "Ref": "ChatReservedConcurrency"
    }
    parameter = template["Parameters"]["ChatReservedConcurrency"]
    host = HostParameters("", "")
    assert parameter["MaxValue"] == host.ollama_num_parallel + host.ollama_max_queue
    assert 1 <= parameter["Default"] <= parameter["MaxValue"]


def test_logs_are_kept_thirty_days_in_each_functions_own_group(template: Template) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert groups
    assert all(g["Properties"]["RetentionInDays"] == 30 for g in groups.values())
    for name in (*APP_FUNCTIONS, "migrate"):
        ids = function_ids(template)
        props = (
            function(template, name)
            if name in ids
            else next(
                r["Properties"]
                for r in resources(template, "AWS::Lambda::Function").values()
                if r["Properties"].get("Handler") == "index.handler"
                and r["Properties"]["Runtime"].startswith("python")
            )
        )
        assert refs(props["LoggingConfig"]["LogGroup"]) <= set(groups), name


def test_every_function_reads_the_signing_key_from_secrets_manager(template: Template) -> None:
    secrets = resources(template, "AWS::SecretsManager::Secret")
    for name in APP_FUNCTIONS:
        variables = env(template, name)
        assert "WEBUI_SECRET_KEY" not in variables
        (secret,) = refs(variables["STRATUS_SECRET_KEY_ARN"])
        assert "SigningKey" in secret
        assert secret in secrets
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Stratus"
        assert function(template, name)["KmsKeyArn"]  # environments encrypted with our key


def test_every_function_is_traced_and_so_is_the_api(template: Template) -> None:
    """Active tracing on each function (Lambda's segments, and the X-Ray daemon its own spans
    go to), the daemon's permissions on its role, and the stage's tracing, which starts the
    trace the function's spans join."""
    for name in APP_FUNCTIONS:
        props = function(template, name)
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        (role,) = refs(props["Role"])
        actions = {
            action
            for policy in resources(template, "AWS::IAM::Policy").values()
            if role in refs(policy["Properties"]["Roles"])
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        }
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions, name
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["TracingEnabled"] is True
