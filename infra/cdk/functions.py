"""The Lambda functions: auth, chat and rag behind the API, rag's S3 ingest handler, and the
deploy-time migrations. Each has its own role, security group and log group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.cdk import profiles
from infra.cdk.artifacts import Artifacts
from infra.cdk.data import DATABASE_NAME, Data, bucket_arn
from infra.cdk.gpu import GpuHost
from infra.cdk.network import HTTPS_PORT, POSTGRES_PORT, Network, allow, allow_https_out
from infra.cdk.network import security_group as new_security_group
from infra.cdk.parameters import WEB_ADAPTER_ACCOUNT, WEB_ADAPTER_LAYER, Parameters
from stratus.web.snapstart import AFTER_RESTORE_PATH, BEFORE_CHECKPOINT_PATH

METRICS_NAMESPACE = "Stratus"
ALIAS = "live"
# The actions Lambda needs on a VPC function's role to manage its network interfaces. EC2 does
# not scope these to resources, so the statement names "*" (as AWS's own managed policy does).
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
VPC_ENI_SID = "LambdaVpcNetworkInterfaces"
# DynamoDB actions per function (stratus.ephemeral, stratus.limits, chat's registry);
# DescribeTable is /readyz's probe.
TABLE_ACTIONS = {
    "auth": (
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
    ),
    "chat": (
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        # The registry's stop polls: one batch read per instance per interval.
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
    ),
}
# S3 actions per function, on the uploads prefix only (ListBucket: /readyz's HeadBucket, and a
# missing object reads as 404, not 403).
OBJECT_ACTIONS = {
    "auth": ("s3:DeleteObject",),  # deleting a user deletes their files
    "rag": ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"),
    "rag-ingest": ("s3:GetObject",),
}
LIST_BUCKET = ("rag", "rag-ingest")
# The functions that call the model host, so read its token (OLLAMA_API_KEY_SECRET_ARN), and
# wake it when it sleeps.
MODEL_HOST_CALLERS = ("chat", "rag", "rag-ingest")
WAKE_SID = "WakeModelHost"
# What the X-Ray daemon in an actively traced function's sandbox sends with the function's role
# (AWS's AWSXRayDaemonWriteAccess grants the same, on '*': X-Ray has no resource-level
# permissions).
TRACES_SID = "TracesToXRay"
TRACES_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
DESCRIBE_GROUPS_SID = "DescribeModelHostGroup"
# The functions behind CloudFront's API behaviours, so read the secret that vouches for its
# viewer address (STRATUS_CDN_ORIGIN_SECRET_ARN).
CDN_ORIGINS = ("auth", "chat", "rag")


@dataclass(frozen=True)
class Functions:
    functions: dict[str, lambda_.Function]
    aliases: dict[str, lambda_.Alias]
    roles: dict[str, iam.Role]
    layers: list[lambda_.ILayerVersion]  # deps and stratus, shared by every function


def function_security_groups(
    scope: Construct, network: Network, data: Data
) -> dict[str, ec2.SecurityGroup]:
    groups = {}
    for name in ("auth", "chat", "rag", "rag-ingest", "migrate"):
        group = new_security_group(
            scope, f"{_id(name)}SecurityGroup", network.vpc, f"Lambda function {name}"
        )
        allow(group, data.proxy_sg, POSTGRES_PORT, f"{name} to RDS Proxy")
        allow(group, network.endpoints_sg, HTTPS_PORT, f"{name} to the interface endpoints")
        allow_https_out(group, f"{name}: HTTPS to the gateway endpoints (and out, if enabled)")
        groups[name] = group
    return groups


def build_functions(
    scope: Construct,
    params: Parameters,
    network: Network,
    data: Data,
    artifacts: Artifacts,
    groups: dict[str, ec2.SecurityGroup],
    model_host: GpuHost,
) -> Functions:
    runtime = lambda_.Runtime.PYTHON_3_12
    if runtime.name != artifacts.runtime:
        raise RuntimeError(f"dist/ holds {artifacts.runtime}, the stack deploys {runtime.name}")
    architecture = lambda_.Architecture.ARM_64
    release = artifacts.release
    layers: list[lambda_.ILayerVersion] = [
        _layer(scope, "DepsLayer", artifacts.layer("deps"), runtime, f"dependencies, {release}"),
        _layer(scope, "StratusLayer", artifacts.layer("stratus"), runtime, f"stratus, {release}"),
    ]
    web_adapter = _web_adapter_layer(scope, params)

    # ARNs, not values: each function reads its secrets at init (stratus.runtime_secrets).
    common = {
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "LOG_LEVEL": "INFO",
        **database_environment(data),
        "STRATUS_DYNAMODB_TABLE": data.table.table_name,
        "STRATUS_SECRET_KEY_ARN": data.signing_key.secret_arn,
    }
    storage = {"STORAGE_PROVIDER": "s3", "S3_BUCKET_NAME": data.bucket_name}
    model_host_env = {
        "OLLAMA_BASE_URL": model_host.url,
        "OLLAMA_API_KEY_SECRET_ARN": data.ollama_token.secret_arn,
        # The wake controller: the first inference request that finds the host asleep sets
        # this group's capacity to 1 (the hold settings have defaults in the app).
        "STRATUS_MODEL_HOST_ASG_NAME": model_host.group_name,
    }
    cors = {"CORS_ALLOW_ORIGIN": params.cors_allow_origin.value_as_string}
    cdn = {"STRATUS_CDN_ORIGIN_SECRET_ARN": data.cdn_origin_secret.secret_arn}
    environments: dict[str, dict[str, str]] = {
        "auth": {
            **common,
            **storage,
            **cors,
            **cdn,
            "STRATUS_ARGON2_PARALLELISM": str(profiles.AUTH_ARGON2_PARALLELISM),
        },
        "chat": {
            **common,
            **model_host_env,
            **cors,
            **cdn,
            # The AWS Lambda Web Adapter runs functions/chat/run.sh and streams every response.
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "AWS_LWA_PORT": "8080",
            "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
            "AWS_LWA_ASYNC_INIT": "true",
            # SnapStart: the adapter POSTs here before the snapshot and after a restore (adapter
            # releases with hooks; older ones ignore the variables), and the app closes, resets
            # and re-seeds its resources (stratus.web.snapstart).
            "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": BEFORE_CHECKPOINT_PATH,
            "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": AFTER_RESTORE_PATH,
            # run.sh itself puts the function's code and the layers (/opt/python) on the path
            # of the uvicorn process it starts.
        },
        "rag": {**common, **storage, **model_host_env, **cors, **cdn},
        "rag-ingest": {
            **common,
            **storage,
            **model_host_env,
            "STRATUS_RAG_INGEST_MAX_ATTEMPTS": str(profiles.RAG_INGEST_RETRY_ATTEMPTS + 1),
        },
    }
    reserved: dict[str, int | float | None] = {
        "auth": None,
        "chat": params.chat_reserved_concurrency.value_as_number,
        "rag": None,
        "rag-ingest": profiles.RAG_INGEST_RESERVED_CONCURRENCY,
    }

    functions: dict[str, lambda_.Function] = {}
    aliases: dict[str, lambda_.Alias] = {}
    roles: dict[str, iam.Role] = {}
    for profile in (profiles.AUTH, profiles.CHAT, profiles.RAG, profiles.RAG_INGEST):
        name = profile.name
        role, log_group = _role_and_logs(scope, name)
        _grant_data(role, name, data)
        _grant_secrets(role, data, secrets_of(name, data))
        if name in MODEL_HOST_CALLERS:
            _grant_wake(role, model_host)
        function = lambda_.Function(
            scope,
            _id(name),
            description=f"stratus {name}, release {release}",
            runtime=runtime,
            architecture=architecture,
            handler=profile.handler,
            code=lambda_.Code.from_asset(str(artifacts.function(profile.zip_name))),
            layers=[*layers, web_adapter] if name == "chat" else layers,
            memory_size=profile.memory_mb,
            timeout=cdk.Duration.seconds(profile.timeout_seconds),
            role=role,
            vpc=network.vpc,
            vpc_subnets=network.functions_subnets,
            security_groups=[groups[name]],
            environment={**environments[name], "POWERTOOLS_SERVICE_NAME": name},
            environment_encryption=data.key,
            log_group=log_group,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
            reserved_concurrent_executions=reserved[name],
            dead_letter_queue=data.ingest_dlq if name == "rag-ingest" else None,
        )
        functions[name] = function
        _trace(function, role)
        if name == "chat":
            # CDK's template check evaluates the Web Adapter's Fn::If on both branches, and the
            # parameter's branch is empty only when the condition picks the other one.
            cdk.Validations.of(function).acknowledge(
                *(
                    cdk.Acknowledgment(
                        id=f"CloudFormation-Validate::{rule}",
                        reason="WebAdapterLayerArn is empty only when the default ARN is used",
                    )
                    for rule in ("F3031", "F3033")
                )
            )
        roles[name] = role
        if name in CDN_ORIGINS:
            _republish_on_rotation(function, params, release)
        aliases[name] = lambda_.Alias(
            scope, f"{_id(name)}Live", alias_name=ALIAS, version=function.current_version
        )

    # Lambda's own retries of S3's asynchronous events, then the dead-letter queue.
    aliases["rag-ingest"].configure_async_invoke(
        retry_attempts=profiles.RAG_INGEST_RETRY_ATTEMPTS,
        max_event_age=cdk.Duration.seconds(profiles.RAG_INGEST_MAX_EVENT_AGE_SECONDS),
    )
    return Functions(functions, aliases, roles, list(layers))


def build_migrations(
    scope: Construct,
    network: Network,
    data: Data,
    artifacts: Artifacts,
    group: ec2.SecurityGroup,
    layers: list[lambda_.ILayerVersion],
) -> cdk.CustomResource:
    """Migrations at deploy time: a custom resource whose handler applies them through the
    proxy. It runs again whenever the stratus layer (which holds the migrations) changes."""
    from aws_cdk import custom_resources as cr

    role, log_group = _role_and_logs(scope, "migrate")
    _grant_secrets(role, data, [data.database_url_secret_arn])
    runtime = lambda_.Runtime.PYTHON_3_12
    code = (Path(__file__).with_name("migrate_handler.py")).read_text()
    function = lambda_.Function(
        scope,
        "Migrate",
        description=f"stratus migrations, release {artifacts.release}",
        runtime=runtime,
        architecture=lambda_.Architecture.ARM_64,
        handler=profiles.MIGRATE.handler,
        code=lambda_.Code.from_inline(code),
        layers=layers,
        memory_size=profiles.MIGRATE.memory_mb,
        timeout=cdk.Duration.seconds(profiles.MIGRATE.timeout_seconds),
        role=role,
        vpc=network.vpc,
        vpc_subnets=network.functions_subnets,
        security_groups=[group],
        environment=database_environment(data),
        environment_encryption=data.key,
        log_group=log_group,
        # Runs once per deploy, one at a time.
        reserved_concurrent_executions=1,
    )
    provider = cr.Provider(
        scope,
        "MigrationsProvider",
        on_event_handler=function,
        log_group=logs.LogGroup(
            scope,
            "MigrationsProviderLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        ),
    )
    resource = cdk.CustomResource(
        scope,
        "Migrations",
        service_token=provider.service_token,
        resource_type="Custom::StratusMigrations",
        properties={"StratusLayer": artifacts.sha256["layer:stratus"]},
    )
    resource.node.add_dependency(data.proxy)
    resource.node.add_dependency(data.database)
    return resource


def _id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _layer(
    scope: Construct, name: str, zip_path: Path, runtime: lambda_.Runtime, description: str
) -> lambda_.LayerVersion:
    return lambda_.LayerVersion(
        scope,
        name,
        code=lambda_.Code.from_asset(str(zip_path)),
        compatible_runtimes=[runtime],
        compatible_architectures=[lambda_.Architecture.ARM_64],
        description=description,
        # Old versions stay, so a rollback finds the layers its functions were published with.
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


def _web_adapter_layer(scope: Construct, params: Parameters) -> lambda_.ILayerVersion:
    use_default = cdk.CfnCondition(
        scope,
        "WebAdapterLayerDefault",
        expression=cdk.Fn.condition_equals(params.web_adapter_layer_arn.value_as_string, ""),
    )
    arn = cdk.Fn.condition_if(
        use_default.logical_id,
        cdk.Fn.sub(
            f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:{WEB_ADAPTER_ACCOUNT}:layer:"
            f"{WEB_ADAPTER_LAYER}"
        ),
        params.web_adapter_layer_arn.value_as_string,
    )
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, "WebAdapterLayer", cdk.Token.as_string(arn)
    )


def _role_and_logs(scope: Construct, name: str) -> tuple[iam.Role, logs.LogGroup]:
    log_group = logs.LogGroup(
        scope,
        f"{_id(name)}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{_id(name)}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Lambda function {name}: its own logs, table actions, objects and secrets",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="OwnLogGroup",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(sid=VPC_ENI_SID, actions=list(VPC_ENI_ACTIONS), resources=["*"])
    )
    return role, log_group


def _grant_data(role: iam.Role, name: str, data: Data) -> None:
    if name in TABLE_ACTIONS:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="OwnTableActions",
                actions=list(TABLE_ACTIONS[name]),
                resources=[data.table.table_arn],
            )
        )
    if name in OBJECT_ACTIONS:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UploadsPrefix",
                actions=list(OBJECT_ACTIONS[name]),
                resources=[bucket_arn(data, f"{profiles.RAG_UPLOAD_PREFIX}*")],
            )
        )
    if name in LIST_BUCKET:
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UploadsBucket", actions=["s3:ListBucket"], resources=[bucket_arn(data)]
            )
        )


def _republish_on_rotation(function: lambda_.Function, params: Parameters, release: str) -> None:
    """A function reads CloudFront's origin secret at init, which SnapStart snapshots once per
    published version. The rotation parameter in the function's description changes its
    configuration (Lambda publishes a new version only from a changed one), and in its
    version's description replaces the version: a new snapshot, with the new value, behind the
    same alias."""
    rotation = params.origin_verify_rotation.value_as_string
    name = function.node.id.lower()
    cfn = function.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    cfn.add_property_override(
        "Description",
        cdk.Fn.join("", [f"stratus {name}, release {release}, origin secret rotation ", rotation]),
    )
    version = function.current_version.node.default_child
    assert isinstance(version, lambda_.CfnVersion)
    version.add_property_override(
        "Description",
        cdk.Fn.join("", [f"{name}, release {release}, origin secret rotation ", rotation]),
    )


def _trace(function: lambda_.Function, role: iam.Role) -> None:
    """Active tracing: Lambda records each invocation in X-Ray and runs the X-Ray daemon in the
    sandbox, which the function's own spans reach over UDP (stratus.observability.tracing)."""
    cfn = function.node.default_child
    assert isinstance(cfn, lambda_.CfnFunction)
    cfn.add_property_override("TracingConfig", {"Mode": "Active"})
    role.add_to_policy(
        iam.PolicyStatement(sid=TRACES_SID, actions=list(TRACES_ACTIONS), resources=["*"])
    )


def _grant_wake(role: iam.Role, model_host: GpuHost) -> None:
    """Waking the GPU host: set this group's capacity, and read it (DescribeAutoScalingGroups
    takes no resource-level permission in IAM, so it can only be granted on '*')."""
    role.add_to_policy(
        iam.PolicyStatement(
            sid=WAKE_SID,
            actions=["autoscaling:SetDesiredCapacity"],
            resources=[model_host.group_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid=DESCRIBE_GROUPS_SID,
            actions=["autoscaling:DescribeAutoScalingGroups"],
            resources=["*"],
        )
    )


def secrets_of(name: str, data: Data) -> list[str]:
    """The secrets a function reads at init: the signing key and the database URL; the model
    host's token where it calls the model host; CloudFront's origin secret behind the API."""
    arns = [data.signing_key.secret_arn, data.database_url_secret_arn]
    if name in MODEL_HOST_CALLERS:
        arns.append(data.ollama_token.secret_arn)
    if name in CDN_ORIGINS:
        arns.append(data.cdn_origin_secret.secret_arn)
    return arns


def database_environment(data: Data) -> dict[str, str]:
    """Where the database URL comes from: the secret's ARN, and for the stack's own database
    (RDS's JSON credentials, which name the instance) the proxy to connect through instead.
    With ExistingDatabaseUrlArn set these are empty, which the settings read as unset."""
    own = data.own_database.logical_id

    def own_only(value: str) -> str:
        return cdk.Token.as_string(cdk.Fn.condition_if(own, value, ""))

    return {
        "DATABASE_URL_SECRET_ARN": data.database_url_secret_arn,
        "DATABASE_HOST": own_only(data.proxy.endpoint),
        "DATABASE_PORT": own_only(str(POSTGRES_PORT)),
        "DATABASE_NAME": own_only(DATABASE_NAME),
    }


def _grant_secrets(role: iam.Role, data: Data, secret_arns: list[str]) -> None:
    role.add_to_policy(
        iam.PolicyStatement(
            sid="OwnSecrets",
            actions=["secretsmanager:GetSecretValue"],
            resources=secret_arns,
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="SecretsKeyViaSecretsManager",
            actions=["kms:Decrypt"],
            resources=[data.key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"secretsmanager.{cdk.Aws.REGION}.amazonaws.com"}
            },
        )
    )
