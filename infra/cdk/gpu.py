"""The GPU model host: Ollama behind its authenticating proxy (``gpu-host/``) on one EC2 GPU
instance, in an auto-scaling group of one, reached through an internal Network Load Balancer.

The load balancer gives the functions one stable address while the group replaces an instance
(and spreads requests if scaling is turned on), and its health check (the proxy's ``/healthz``,
which asks Ollama) replaces a host whose Ollama stops answering. Only the chat and rag
functions' groups may reach it, on the proxy port.

Scale to zero (``GpuIdleMinutes``, 0 turns it off): after that many minutes without inference
an alarm sets the group's capacity to 0, and the host stops into a warm pool with its driver,
images and models on its volume; the first inference request sets the capacity back to 1
(the functions' wake permission, ``STRATUS_MODEL_HOST_ASG_NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
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
# One per inference request each model client sends to the host (SCALE-TO-ZERO.md).
REQUESTS_METRIC = "ModelHostRequests"
# Health checks: every 10 s, 5 s to answer (the proxy gives Ollama 3 s), 2 good ones to serve
# and 3 bad ones to be replaced.
HEALTH_PATH = "/healthz"
HEALTH_INTERVAL_SECONDS = 10
HEALTH_TIMEOUT_SECONDS = 5
# Once in service (its launch hook completed, so its models are loaded), a host has this long
# to be registered and pass the load balancer's checks before failing ones replace it.
REGISTRATION_GRACE_SECONDS = 300
# The scale-in policy's cooldown: while the idle alarm is in ALARM, CloudWatch invokes an Auto
# Scaling action again every minute; for this long after it set the capacity to 0 it is not
# applied again, so a wake in the minutes the alarm takes to see the group at 0 stands.
IDLE_SCALE_IN_COOLDOWN_SECONDS = 600
# The metric math of the idle alarm: 1 for a minute in which the group wanted a host and no
# model client sent the host a request (a client that sent nothing has no data: FILL makes it
# 0). At 0 instances it is 0, so the alarm rests in OK while the host sleeps.
IDLE_EXPRESSION = (
    "IF((desired >= 1) AND ((FILL(chat, 0) + FILL(rag, 0) + FILL(ingest, 0)) == 0), 1, 0)"
)
IDLE_QUERY_IDS = {"chat": "chat", "rag": "rag", "rag-ingest": "ingest"}


@dataclass(frozen=True)
class GpuHost:
    url: str
    load_balancer: elbv2.NetworkLoadBalancer
    target_group: elbv2.NetworkTargetGroup
    group: autoscaling.CfnAutoScalingGroup
    host_sg: ec2.SecurityGroup
    balancer_sg: ec2.SecurityGroup
    host_parameters: HostParameters

    @property
    def group_name(self) -> str:
        return self.group.ref

    @property
    def group_arn(self) -> str:
        """The group's ARN (CloudFormation returns only its name), for IAM statements."""
        return group_arn(self.group.ref)


def group_arn(name: str) -> str:
    return cdk.Fn.sub(
        "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}:autoScalingGroup:*:"
        "autoScalingGroupName/${Name}",
        {"Name": name},
    )


def group_metric(name: str, group: str) -> cloudwatch.CfnAlarm.MetricStatProperty:
    """One of the group's own metrics (collected every minute), its minimum per minute."""
    return cloudwatch.CfnAlarm.MetricStatProperty(
        metric=cloudwatch.CfnAlarm.MetricProperty(
            namespace="AWS/AutoScaling",
            metric_name=name,
            dimensions=[
                cloudwatch.CfnAlarm.DimensionProperty(name="AutoScalingGroupName", value=group)
            ],
        ),
        period=60,
        stat="Minimum",
    )


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
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                # host_ready.py finds its group in the aws:autoscaling:groupName tag.
                instance_metadata_tags="enabled",
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
            # The proxy's one unauthenticated route, which asks Ollama (/api/version): 200
            # only while Ollama answers, so a host whose Ollama died or hung is replaced.
            path=HEALTH_PATH,
            port=str(port),
            healthy_http_codes="200",
            interval=cdk.Duration.seconds(HEALTH_INTERVAL_SECONDS),
            timeout=cdk.Duration.seconds(HEALTH_TIMEOUT_SECONDS),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        ),
    )
    balancer.add_listener(
        "GpuListener", port=port, protocol=elbv2.Protocol.TCP, default_target_groups=[target_group]
    )

    always_on = cdk.CfnCondition(
        scope,
        "GpuAlwaysOn",
        expression=cdk.Fn.condition_equals(params.gpu_idle_minutes.value_as_string, "0"),
    )
    group = autoscaling.CfnAutoScalingGroup(
        scope,
        "GpuHosts",
        # 0 when the host may sleep. No DesiredCapacity: CloudFormation then leaves the group's
        # capacity as it finds it on every update, so a deploy never wakes a sleeping host.
        min_size=cdk.Token.as_string(cdk.Fn.condition_if(always_on.logical_id, "1", "0")),
        max_size=params.gpu_max_instances.value_as_string,
        launch_template=autoscaling.CfnAutoScalingGroup.LaunchTemplateSpecificationProperty(
            launch_template_id=template.ref, version=template.attr_latest_version_number
        ),
        vpc_zone_identifier=network.vpc.select_subnets(subnet_group_name="host").subnet_ids,
        health_check_type="ELB",
        health_check_grace_period=REGISTRATION_GRACE_SECONDS,
        target_group_arns=[target_group.target_group_arn],
        metrics_collection=[
            autoscaling.CfnAutoScalingGroup.MetricsCollectionProperty(granularity="1Minute")
        ],
        # Every launch waits here until the host says it is ready (gpu-host/host_ready.py):
        # launched into the warm pool, it is stopped only once installed with its models on
        # its volume (the group would otherwise stop it in the middle of its user data); leaving
        # the pool, it goes in service only once its models are loaded. A host that does not
        # get there in time is given up and replaced.
        lifecycle_hook_specification_list=[
            autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                lifecycle_hook_name=host_parameters.lifecycle_hook_name,
                lifecycle_transition="autoscaling:EC2_INSTANCE_LAUNCHING",
                heartbeat_timeout=params.gpu_health_grace_seconds.value_as_number,
                default_result="ABANDON",
            )
        ],
    )
    # A changed launch template replaces the hosts through an instance refresh, which (unlike
    # a rolling update) replaces the warm pool's stopped instance too. The old host goes first,
    # since a group of one may not grow past its maximum; neither policy sets the capacity.
    group.cfn_options.update_policy = cdk.CfnUpdatePolicy(
        auto_scaling_instance_refresh=cdk.CfnAutoScalingInstanceRefresh(
            strategy="Rolling",
            preferences=cdk.CfnAutoScalingInstanceRefreshPreferences(
                min_healthy_percentage=0, max_healthy_percentage=100, skip_matching=True
            ),
        )
    )
    _grant_host_ready(scope, role, group)
    _scaling_policies(scope, params, group)
    _sleep_when_idle(scope, params, group)
    url = f"http://{balancer.load_balancer_dns_name}:{port}"
    return GpuHost(url, balancer, target_group, group, host_sg, balancer_sg, host_parameters)


def _grant_host_ready(
    scope: Construct, role: iam.Role, group: autoscaling.CfnAutoScalingGroup
) -> None:
    """The host completes its own launch hook. A policy of its own: the role's default policy
    (its secret) is then not held back until the group exists."""
    iam.Policy(
        scope,
        "GpuHostReadyPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="CompleteOwnLaunchHook",
                actions=["autoscaling:CompleteLifecycleAction"],
                resources=[group_arn(group.ref)],
            )
        ],
    )


def _sleep_when_idle(
    scope: Construct,
    params: Parameters,
    group: autoscaling.CfnAutoScalingGroup,
) -> None:
    """A warm pool of one stopped host, and an alarm that sets the capacity to 0 after
    GpuIdleMinutes minutes without inference. No daemon on the host: the functions count."""
    sleeps = cdk.CfnCondition(
        scope,
        "GpuSleepsWhenIdle",
        expression=cdk.Fn.condition_not(
            cdk.Fn.condition_equals(params.gpu_idle_minutes.value_as_string, "0")
        ),
    )
    pool = autoscaling.CfnWarmPool(
        scope,
        "GpuWarmPool",
        auto_scaling_group_name=group.ref,
        pool_state="Stopped",
        min_size=0,
        # One host in all, running or stopped: at capacity 0 it waits stopped in the pool (only
        # its volume is billed), at 1 it is the one in service and the pool is empty.
        max_group_prepared_capacity=1,
        # Scale-in stops the host back into the pool instead of terminating it.
        instance_reuse_policy=autoscaling.CfnWarmPool.InstanceReusePolicyProperty(
            reuse_on_scale_in=True
        ),
    )
    sleep = autoscaling.CfnScalingPolicy(
        scope,
        "GpuSleepPolicy",
        auto_scaling_group_name=group.ref,
        policy_type="SimpleScaling",
        adjustment_type="ExactCapacity",
        scaling_adjustment=0,
        cooldown=str(IDLE_SCALE_IN_COOLDOWN_SECONDS),
    )
    queries = [
        cloudwatch.CfnAlarm.MetricDataQueryProperty(
            id=IDLE_QUERY_IDS[name],
            metric_stat=cloudwatch.CfnAlarm.MetricStatProperty(
                metric=cloudwatch.CfnAlarm.MetricProperty(
                    namespace=METRICS_NAMESPACE,
                    metric_name=REQUESTS_METRIC,
                    dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="service", value=name)],
                ),
                period=60,
                stat="Sum",
            ),
            return_data=False,
        )
        for name in MODEL_CLIENTS
    ]
    desired = group_metric("GroupDesiredCapacity", group.ref)
    queries.append(
        cloudwatch.CfnAlarm.MetricDataQueryProperty(
            id="desired", metric_stat=desired, return_data=False
        )
    )
    queries.append(
        cloudwatch.CfnAlarm.MetricDataQueryProperty(
            id="idle",
            expression=IDLE_EXPRESSION,
            label="a host up and no inference request in the minute",
            return_data=True,
        )
    )
    alarm = cloudwatch.CfnAlarm(
        scope,
        "GpuIdleAlarm",
        alarm_description="No inference for GpuIdleMinutes minutes: the GPU host goes to sleep",
        metrics=queries,
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1,
        evaluation_periods=params.gpu_idle_minutes.value_as_number,
        datapoints_to_alarm=params.gpu_idle_minutes.value_as_number,
        # No data at all (no client ran, or CloudWatch has nothing yet) counts as idle.
        treat_missing_data="breaching",
        alarm_actions=[sleep.attr_arn],
    )
    for resource in (pool, sleep, alarm):
        resource.cfn_options.condition = sleeps


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
