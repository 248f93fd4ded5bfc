"""The stack's CloudFormation parameters: what a deployer chooses at deploy time."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

from infra.cdk import profiles
from infra.gpu_host.user_data import HostParameters

# The AWS Lambda Web Adapter's arm64 layer, version 27 (adapter v1.0.0, which also stops
# reusing pooled connections across a SnapStart restore). Used unless WebAdapterLayerArn is set.
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_LAYER = "LambdaAdapterLayerArm64:27"

# g5 (A10G, 24 GB) and g6 (L4, 24 GB) sizes: one GPU each up to 16xlarge.
GPU_INSTANCE_TYPES = (
    "g6.xlarge",
    "g6.2xlarge",
    "g6.4xlarge",
    "g6.8xlarge",
    "g6.16xlarge",
    "g5.xlarge",
    "g5.2xlarge",
    "g5.4xlarge",
    "g5.8xlarge",
    "g5.16xlarge",
)
# Canonical's Ubuntu 24.04 LTS for x86-64 (g5 and g6 are x86-64), as published in SSM.
UBUNTU_AMI_PARAMETER = (
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
)
# The GPU host stops after this many minutes without inference (GpuIdleMinutes; 0: never).
GPU_IDLE_MINUTES = 30
GPU_IDLE_MINUTES_MAX = 24 * 60
# What host.env may hold (infra.gpu_host.user_data checks the same alphabet).
HOST_ENV_PATTERN = r"^[A-Za-z0-9 _.:/@+=,-]*$"


def catalog_id(model: str) -> str:
    """A model's id as Ollama lists it (and chat names it in its metrics): with its tag,
    ``:latest`` when the name has none."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


@dataclass(frozen=True)
class Parameters:
    web_adapter_layer_arn: cdk.CfnParameter
    gpu_instance_type: cdk.CfnParameter
    gpu_image_id: cdk.CfnParameter
    gpu_volume_gb: cdk.CfnParameter
    gpu_preload_models: cdk.CfnParameter
    gpu_max_instances: cdk.CfnParameter
    gpu_health_grace_seconds: cdk.CfnParameter
    gpu_idle_minutes: cdk.CfnParameter
    gpu_scaling: cdk.CfnParameter
    gpu_scaling_model: cdk.CfnParameter
    gpu_scaling_ttft_ms: cdk.CfnParameter
    gpu_scaling_ms_per_token: cdk.CfnParameter
    functions_internet_egress: cdk.CfnParameter
    chat_reserved_concurrency: cdk.CfnParameter
    api_rate_limit: cdk.CfnParameter
    api_burst_limit: cdk.CfnParameter
    auth_rate_limit: cdk.CfnParameter
    auth_burst_limit: cdk.CfnParameter
    database_instance_class: cdk.CfnParameter
    database_storage_gb: cdk.CfnParameter
    database_multi_az: cdk.CfnParameter
    database_url_secret_arn: cdk.CfnParameter
    cors_allow_origin: cdk.CfnParameter
    alarm_email: cdk.CfnParameter
    web_domain_name: cdk.CfnParameter
    web_certificate_arn: cdk.CfnParameter
    web_api_read_timeout: cdk.CfnParameter
    web_acl_arn: cdk.CfnParameter
    api_direct_access: cdk.CfnParameter
    origin_verify_rotation: cdk.CfnParameter


def declare(scope: Construct) -> Parameters:
    host = HostParameters("", "")

    def param(name: str, **kwargs: object) -> cdk.CfnParameter:
        return cdk.CfnParameter(scope, name, **kwargs)  # type: ignore[arg-type]

    return Parameters(
        web_adapter_layer_arn=param(
            "WebAdapterLayerArn",
            type="String",
            default="",
            description=(
                "ARN of the AWS Lambda Web Adapter layer for arm64 (chat). Empty: AWS's "
                f"{WEB_ADAPTER_LAYER} in this region."
            ),
        ),
        gpu_instance_type=param(
            "GpuInstanceType",
            type="String",
            default="g6.xlarge",
            allowed_values=list(GPU_INSTANCE_TYPES),
            description="EC2 instance type of the GPU model host (g5 or g6)",
        ),
        gpu_image_id=param(
            "GpuImageId",
            type="AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            default=UBUNTU_AMI_PARAMETER,
            description="SSM parameter naming the GPU host's AMI (Ubuntu 24.04, x86-64)",
        ),
        gpu_volume_gb=param(
            "GpuVolumeGb",
            type="Number",
            default=200,
            min_value=50,
            max_value=2000,
            description="GPU host root volume in GB (models live on it)",
        ),
        gpu_preload_models=param(
            "GpuPreloadModels",
            type="String",
            default=host.ollama_preload_models,
            allowed_pattern=HOST_ENV_PATTERN,
            description="Space-separated Ollama models the GPU host pulls and loads at boot",
        ),
        gpu_max_instances=param(
            "GpuMaxInstances",
            type="Number",
            default=1,
            min_value=1,
            max_value=8,
            description="Most GPU hosts the scaling policy may run (1: a group of one)",
        ),
        gpu_health_grace_seconds=param(
            "GpuHealthGraceSeconds",
            type="Number",
            default=2400,
            min_value=300,
            max_value=7200,
            description=(
                "Seconds a new GPU host has to install its driver and pull its models (or, "
                "started from the warm pool, to load them) before it is given up and replaced"
            ),
        ),
        gpu_idle_minutes=param(
            "GpuIdleMinutes",
            type="Number",
            default=GPU_IDLE_MINUTES,
            min_value=0,
            # CloudWatch evaluates an alarm over at most one day of one-minute periods.
            max_value=GPU_IDLE_MINUTES_MAX,
            description=(
                "Minutes without inference after which the GPU host stops (into the warm pool) "
                "until the next request wakes it. 0: always on"
            ),
        ),
        gpu_scaling=param(
            "GpuScaling",
            type="String",
            default="off",
            allowed_values=["off", "on"],
            description=(
                "on: scale the GPU hosts (up to GpuMaxInstances) on chat's TimeToFirstToken "
                "and TokensPerSecond metrics"
            ),
        ),
        gpu_scaling_model=param(
            "GpuScalingModel",
            type="String",
            default=catalog_id(host.ollama_preload_models.split()[0]),
            description=(
                "The model whose metrics drive scaling: its id in the model list (/v1/models), "
                "which is the metrics' 'model' dimension, e.g. llama3.2:latest"
            ),
        ),
        gpu_scaling_ttft_ms=param(
            "GpuScalingTimeToFirstTokenMs",
            type="Number",
            default=2000,
            min_value=100,
            description="Target average time to first token, in ms",
        ),
        gpu_scaling_ms_per_token=param(
            "GpuScalingMsPerToken",
            type="Number",
            default=50,
            min_value=1,
            description="Target average ms per generated token (1000 / TokensPerSecond)",
        ),
        functions_internet_egress=param(
            "FunctionsInternetEgress",
            type="String",
            default="false",
            allowed_values=["false", "true"],
            description=(
                "true: the functions may reach the internet through the NAT gateway (for "
                "OpenAI-compatible upstreams). false: only the VPC endpoints, the database "
                "proxy and the GPU host"
            ),
        ),
        chat_reserved_concurrency=param(
            "ChatReservedConcurrency",
            type="Number",
            default=profiles.CHAT_RESERVED_CONCURRENCY,
            min_value=1,
            max_value=host.ollama_num_parallel + host.ollama_max_queue,
            description=(
                "Most chat requests at once; at most what the GPU host serves and queues "
                "(OLLAMA_NUM_PARALLEL + OLLAMA_MAX_QUEUE)"
            ),
        ),
        api_rate_limit=param(
            "ApiRateLimit",
            type="Number",
            default=100,
            min_value=1,
            description="Steady requests per second the API accepts (stage-wide)",
        ),
        api_burst_limit=param(
            "ApiBurstLimit",
            type="Number",
            default=200,
            min_value=1,
            description="Burst of requests the API accepts (stage-wide)",
        ),
        auth_rate_limit=param(
            "AuthRateLimit",
            type="Number",
            default=20,
            min_value=1,
            description="Steady requests per second to /api/v1/auths (each sign-in hashes)",
        ),
        auth_burst_limit=param(
            "AuthBurstLimit",
            type="Number",
            default=40,
            min_value=1,
            description="Burst of requests to /api/v1/auths",
        ),
        database_instance_class=param(
            "DatabaseInstanceClass",
            type="String",
            default="db.t4g.small",
            allowed_pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
            description="RDS instance class of the PostgreSQL database",
        ),
        database_storage_gb=param(
            "DatabaseStorageGb",
            type="Number",
            default=20,
            min_value=20,
            max_value=999,
            description="Allocated storage of the database in GB (it grows by itself to 1000)",
        ),
        database_multi_az=param(
            "DatabaseMultiAz",
            type="String",
            default="false",
            allowed_values=["false", "true"],
            description="true: a standby in a second zone (twice the database cost)",
        ),
        database_url_secret_arn=param(
            "ExistingDatabaseUrlArn",
            type="String",
            default="",
            allowed_pattern=r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)?$",
            description=(
                "ARN of an existing secret holding DATABASE_URL (a postgresql:// URL) that the "
                "functions and migrations use instead of the stack's database. Empty: the "
                "stack's own database, through RDS Proxy"
            ),
        ),
        cors_allow_origin=param(
            "CorsAllowOrigin",
            type="String",
            default="",
            description="CORS_ALLOW_ORIGIN for the functions (';'-separated origins); empty: none",
        ),
        alarm_email=param(
            "AlarmEmail",
            type="String",
            default="",
            description="E-mail address subscribed to the alarms' topic (empty: none)",
        ),
        web_domain_name=param(
            "WebDomainName",
            type="String",
            default="",
            allowed_pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$|^$",
            description=(
                "Your domain for the web client and the API (with WebCertificateArn; you point "
                "its DNS at the distribution). Empty: the distribution's cloudfront.net name"
            ),
        ),
        web_certificate_arn=param(
            "WebCertificateArn",
            type="String",
            default="",
            allowed_pattern=r"^(arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/.+)?$",
            description=(
                "ACM certificate for WebDomainName, in us-east-1 (CloudFront's region). With it "
                "viewers need TLS 1.2 or later; cloudfront.net's own certificate allows TLS 1.0"
            ),
        ),
        web_acl_arn=param(
            "WebAclArn",
            type="String",
            default="",
            allowed_pattern=r"^(arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+)?$",
            description=(
                "ARN of an AWS WAF web ACL (scope CLOUDFRONT, in us-east-1) for the "
                "distribution. Empty: none"
            ),
        ),
        api_direct_access=param(
            "ApiDirectAccess",
            type="String",
            default="refuse",
            allowed_values=["refuse", "allow"],
            description=(
                "refuse: the API's own execute-api address refuses every request that did not "
                "come through this stack's CloudFront distribution (a WAF web ACL on the stage). "
                "allow: clients may also call the API's address directly (ApiUrl)"
            ),
        ),
        origin_verify_rotation=param(
            "OriginVerifyRotation",
            type="String",
            default="0",
            allowed_pattern=r"^[A-Za-z0-9-]{1,32}$",
            description=(
                "Change it (any new value) in the deploy after a new CdnOriginSecret value was "
                "put: CloudFront, the API's web ACL and the functions then read the new value "
                "(see infra/README.md). After the first change the web ACL also accepts the "
                "previous value, so requests pass while CloudFront deploys the new one"
            ),
        ),
        web_api_read_timeout=param(
            "WebApiReadTimeout",
            type="Number",
            default=profiles.CDN_API_READ_TIMEOUT_SECONDS,
            min_value=1,
            max_value=profiles.CDN_API_READ_TIMEOUT_MAX_SECONDS,
            description=(
                "Seconds CloudFront waits for the API's first byte and between bytes. Above 60 "
                "needs a CloudFront quota increase (Response timeout per origin) first"
            ),
        ),
    )
