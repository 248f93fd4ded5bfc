"""The Regional REST API (HTTPS only): the route table of ``local.routing`` as resources, the
chat function's routes through the response-streaming integration, auth and rag through the
Lambda proxy integration."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.cdk import profiles
from infra.cdk.parameters import Parameters
from infra.cdk.routes import GREEDY, route_table

STAGE = "live"
# Functions whose responses stream: the chat function runs under the Lambda Web Adapter in
# response_stream mode, which applies to every one of its responses.
STREAMING_FUNCTIONS = frozenset({"chat"})
# The stage-wide throttle also applies per method unless overridden; sign-in hashes with
# argon2, so the auth prefix gets a tighter one of its own.
AUTH_THROTTLED_PATHS = ("/api/v1/auths", f"/api/v1/auths/{GREEDY}")


def build_api(
    scope: Construct, params: Parameters, aliases: dict[str, lambda_.Alias]
) -> apigw.RestApi:
    access_logs = logs.LogGroup(
        scope,
        "ApiAccessLogs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    auth_throttle = apigw.ThrottleSettings(
        rate_limit=params.auth_rate_limit.value_as_number,
        burst_limit=int(params.auth_burst_limit.value_as_number),
    )
    api = apigw.RestApi(
        scope,
        "Api",
        rest_api_name=f"{cdk.Aws.STACK_NAME}-api",
        description="Stratus: the auth, chat and rag functions, routed as local.routing says",
        endpoint_types=[apigw.EndpointType.REGIONAL],
        # Every body reaches the functions base64-encoded and byte for byte (uploads, images).
        binary_media_types=["*/*"],
        # No compression: it would hold back a streamed response.
        min_compression_size=None,
        cloud_watch_role=True,
        cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
        deploy_options=apigw.StageOptions(
            stage_name=STAGE,
            throttling_rate_limit=params.api_rate_limit.value_as_number,
            throttling_burst_limit=int(params.api_burst_limit.value_as_number),
            metrics_enabled=True,
            # API Gateway's segment starts each trace and hands it to the function (X-Ray's
            # header), so a request reads as one trace from the edge to the model host.
            tracing_enabled=True,
            access_log_destination=apigw.LogGroupLogDestination(access_logs),
            access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                caller=False,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=False,
            ),
            method_options={
                f"{path}/*": apigw.MethodDeploymentOptions(
                    throttling_rate_limit=auth_throttle.rate_limit,
                    throttling_burst_limit=auth_throttle.burst_limit,
                )
                for path in AUTH_THROTTLED_PATHS
            },
        ),
    )

    integrations = {name: _integration(name, aliases[name]) for name in ("auth", "chat", "rag")}
    resources: dict[str, apigw.IResource] = {"/": api.root}
    for route in route_table():
        parent_path, _, part = route.path.rpartition("/")
        parent_path = parent_path or "/"
        if route.path == "/":
            resource = api.root
        elif route.path in resources:
            resource = resources[route.path]
        else:
            resource = resources[parent_path].add_resource(part)
            resources[route.path] = resource
        resource.add_method("ANY", integrations[route.function])
    return api


def _integration(name: str, alias: lambda_.Alias) -> apigw.LambdaIntegration:
    streamed = name in STREAMING_FUNCTIONS
    return apigw.LambdaIntegration(
        alias,
        proxy=True,
        allow_test_invoke=False,
        # One permission per function instead of one per method.
        scope_permission_to_method=False,
        # CloudFormation's ResponseTransferMode: STREAM, invoked through Lambda's
        # InvokeWithResponseStream (.../response-streaming-invocations), for up to 15 minutes.
        response_transfer_mode=apigw.ResponseTransferMode.STREAM if streamed else None,
        timeout=cdk.Duration.seconds(profiles.STREAMED_INTEGRATION_SECONDS) if streamed else None,
    )
