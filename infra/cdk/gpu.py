"""The GPU model host: Ollama behind its authenticating proxy (``gpu-host/``) on one EC2 GPU
instance, in an auto-scaling group of one, reached through an internal Network Load Balancer.

The load balancer gives the functions one stable address while the group replaces an instance
(and spreads requests if scaling is turned on), and its health check replaces a host whose
proxy stops answering. Only the chat and rag functions' groups may reach it, on the proxy port.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.cdk.data import Data
from infra.cdk.network import HTTPS_PORT, Network, allow, security_group
from infra.cdk.parameters import Parameters
from infra.gpu_host.user_data import HostParameters, build_user_data

# Stand-ins that pass host.env's alphabet; replaced with CloudFormation references.
_PLACEHOLDERS = {
    "secret_arn": "STRATUSPLACEHOLDERSECRETARN",
    "region": "STRATUSPLACEHOLDERREGION",
    "models": "STRATUSPLACEHOLDERMODELS",
}
METRICS_NAMESPACE = "Stratus"
MODEL_CLIENTS = ("chat", "rag", "rag-ingest")


@dataclass(frozen=True)
class GpuHost:
    url: str
    load_balancer: elbv2.NetworkLoadBalancer
    target_group: elbv2.NetworkTargetGroup
    group: autoscaling.CfnAutoScalingGroup
    host_sg: ec2.SecurityGroup
    balancer_sg: ec2.SecurityGroup
    host_parameters: HostParameters


def user_data(parameters: HostParameters) -> str:
    """The cloud-config from gpu-host/ with ${...} references for CloudFormation's Fn::Sub."""
    text = build_user_data(parameters)
    if "${" in text:
        raise ValueError("the user data holds '${', which Fn::Sub would read as a reference")
    return (
        text.replace(_PLACEHOLDERS["secret_arn"], "${SecretArn}")
        .replace(_PLACEHOLDERS["region"], "${AWS::Region}")
        .replace(_PLACEHOLDERS["models"], "${Models}")
    )


def build_gpu_host(
    scope: Construct,
    params: Parameters,
    network: Network,
    data: Data,
    function_groups: dict[str, ec2.SecurityGroup],
) -> GpuHost:
    host_parameters = HostParameters(
        ollama_api_key_secret_arn=_PLACEHOLDERS["secret_arn"],
        aws_region=_PLACEHOLDERS["region"],
        ollama_preload_models=_PLACEHOLDERS["models"],
    )
    port = host_parameters.proxy_port

    balancer_sg = security_group(
        scope, "GpuBalancerSecurityGroup", network.vpc, "GPU host load balancer: chat and rag"
    )
    host_sg = security_group(
        scope, "GpuHostSecurityGroup", network.vpc, "GPU host: its load balancer, proxy port only"
    )
    for name in MODEL_CLIENTS:
        allow(function_groups[name], balancer_sg, port, f"{name} to the GPU host's proxy")
    allow(balancer_sg, host_sg, port, "load balancer to the GPU host's proxy")
    # The host installs the NVIDIA driver and Docker from their archives (HTTP and HTTPS) and
    # pulls images and models over HTTPS, through the NAT gateway.
    host_sg.add_egress_rule(
        ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "packages, images, models"
    )
    host_sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "Ubuntu's package archive")
    allow(host_sg, network.endpoints_sg, HTTPS_PORT, "GPU host to Secrets Manager")

    role = iam.Role(
        scope,
        "GpuHostRole",
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description="GPU host: reads its proxy token; Session Manager for operators",
        managed_policies=[
            # Shell access without SSH keys or open ports (healthcheck.sh, preload.sh).
            iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
        ],
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"], resources=[data.ollama_token.secret_arn]
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
    profile = iam.CfnInstanceProfile(scope, "GpuHostProfile", roles=[role.role_name])

    rendered = cdk.Fn.sub(
        user_data(host_parameters),
        {
            "SecretArn": data.ollama_token.secret_arn,
            "Models": params.gpu_preload_models.value_as_string,
        },
    )
    template = ec2.CfnLaunchTemplate(
        scope,
        "GpuHostTemplate",
        launch_template_data=ec2.CfnLaunchTemplate.LaunchTemplateDataProperty(
            image_id=params.gpu_image_id.value_as_string,
            instance_type=params.gpu_instance_type.value_as_string,
            iam_instance_profile=ec2.CfnLaunchTemplate.IamInstanceProfileProperty(
                arn=profile.attr_arn
            ),
            security_group_ids=[host_sg.security_group_id],
            user_data=cdk.Fn.base64(rendered),
            metadata_options=ec2.CfnLaunchTemplate.MetadataOptionsProperty(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                ec2.CfnLaunchTemplate.BlockDeviceMappingProperty(
                    device_name="/dev/sda1",
                    ebs=ec2.CfnLaunchTemplate.EbsProperty(
                        volume_size=params.gpu_volume_gb.value_as_number,
                        volume_type="gp3",
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
            monitoring=ec2.CfnLaunchTemplate.MonitoringProperty(enabled=True),
            tag_specifications=[
                ec2.CfnLaunchTemplate.TagSpecificationProperty(
                    resource_type="instance",
                    tags=[cdk.CfnTag(key="Name", value="stratus-gpu-host")],
                )
            ],
        ),
    )

    balancer = elbv2.NetworkLoadBalancer(
        scope,
        "GpuBalancer",
        vpc=network.vpc,
        internet_facing=False,
        vpc_subnets=network.functions_subnets,
        security_groups=[balancer_sg],
        cross_zone_enabled=True,
    )
    target_group = elbv2.NetworkTargetGroup(
        scope,
        "GpuTargets",
        vpc=network.vpc,
        port=port,
        protocol=elbv2.Protocol.TCP,
        target_type=elbv2.TargetType.INSTANCE,
        # The host sees the balancer's address, which its group admits by group reference.
        preserve_client_ip=False,
        # A host leaving the group finishes its streams first (API Gateway's 15 minutes).
        deregistration_delay=cdk.Duration.seconds(900),
        health_check=elbv2.HealthCheck(
            protocol=elbv2.Protocol.HTTP,
            path="/",
            port=str(port),
            # The proxy refuses a request without the token: a 401 proves it is up and guarding.
            healthy_http_codes="401",
            interval=cdk.Duration.seconds(30),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        ),
    )
    balancer.add_listener(
        "GpuListener", port=port, protocol=elbv2.Protocol.TCP, default_target_groups=[target_group]
    )

    group = autoscaling.CfnAutoScalingGroup(
        scope,
        "GpuHosts",
        min_size="1",
        max_size=params.gpu_max_instances.value_as_string,
        launch_template=autoscaling.CfnAutoScalingGroup.LaunchTemplateSpecificationProperty(
            launch_template_id=template.ref, version=template.attr_latest_version_number
        ),
        vpc_zone_identifier=network.vpc.select_subnets(subnet_group_name="host").subnet_ids,
        health_check_type="ELB",
        health_check_grace_period=params.gpu_health_grace_seconds.value_as_number,
        target_group_arns=[target_group.target_group_arn],
        metrics_collection=[
            autoscaling.CfnAutoScalingGroup.MetricsCollectionProperty(granularity="1Minute")
        ],
    )
    # A changed launch template replaces the host: the old one goes first, since a group of one
    # may not grow past its maximum. Chat answers 503 until the new host is healthy.
    group.cfn_options.update_policy = cdk.CfnUpdatePolicy(
        auto_scaling_rolling_update=cdk.CfnAutoScalingRollingUpdate(
            min_instances_in_service=0, max_batch_size=1
        )
    )
    _scaling_policies(scope, params, group)
    url = f"http://{balancer.load_balancer_dns_name}:{port}"
    return GpuHost(url, balancer, target_group, group, host_sg, balancer_sg, host_parameters)


def _scaling_policies(
    scope: Construct, params: Parameters, group: autoscaling.CfnAutoScalingGroup
) -> None:
    """Target tracking on what chat measures per model (off unless GpuScaling=on): the time to
    first token grows when requests queue on the GPU, and so does the time per token when more
    requests share it. Scale-in happens only when both are below their targets."""
    enabled = cdk.CfnCondition(
        scope,
        "GpuScalingEnabled",
        expression=cdk.Fn.condition_equals(params.gpu_scaling.value_as_string, "on"),
    )
    dimensions = [
        autoscaling.CfnScalingPolicy.MetricDimensionProperty(
            name="model", value=params.gpu_scaling_model.value_as_string
        ),
        # Powertools adds the service name (POWERTOOLS_SERVICE_NAME) as a dimension.
        autoscaling.CfnScalingPolicy.MetricDimensionProperty(name="service", value="chat"),
    ]
    ttft = autoscaling.CfnScalingPolicy(
        scope,
        "GpuScaleOnTimeToFirstToken",
        auto_scaling_group_name=group.ref,
        policy_type="TargetTrackingScaling",
        estimated_instance_warmup=params.gpu_health_grace_seconds.value_as_number,
        target_tracking_configuration=autoscaling.CfnScalingPolicy.TargetTrackingConfigurationProperty(
            target_value=params.gpu_scaling_ttft_ms.value_as_number,
            customized_metric_specification=autoscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                namespace=METRICS_NAMESPACE,
                metric_name="TimeToFirstToken",
                dimensions=dimensions,
                statistic="Average",
                unit="Milliseconds",
            ),
        ),
    )
    per_token = autoscaling.CfnScalingPolicy(
        scope,
        "GpuScaleOnTimePerToken",
        auto_scaling_group_name=group.ref,
        policy_type="TargetTrackingScaling",
        estimated_instance_warmup=params.gpu_health_grace_seconds.value_as_number,
        target_tracking_configuration=autoscaling.CfnScalingPolicy.TargetTrackingConfigurationProperty(
            target_value=params.gpu_scaling_ms_per_token.value_as_number,
            customized_metric_specification=autoscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                metrics=[
                    autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                        id="tokens_per_second",
                        metric_stat=autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty(
                            metric=autoscaling.CfnScalingPolicy.MetricProperty(
                                namespace=METRICS_NAMESPACE,
                                metric_name="TokensPerSecond",
                                dimensions=dimensions,
                            ),
                            stat="Average",
                        ),
                        return_data=False,
                    ),
                    # Target tracking needs a metric that grows with load: ms per token does,
                    # tokens per second (per stream) falls.
                    autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                        id="ms_per_token",
                        expression="1000 / tokens_per_second",
                        label="ms per generated token",
                        return_data=True,
                    ),
                ]
            ),
        ),
    )
    for policy in (ttft, per_token):
        policy.cfn_options.condition = enabled
