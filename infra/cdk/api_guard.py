"""No way around CloudFront: the API's own address refuses what did not come through it.

API Gateway's execute-api address stays public (a Regional endpoint cannot be hidden unless
the API has a custom domain of its own, which this stack does not require). CloudFront sends
every API request with ``x-stratus-origin-verify`` set to the stack's generated secret, so a
regional AWS WAF web ACL on the stage admits a request only with that header and value; any
other gets 403 before API Gateway invokes a function (no Lambda cost, no concurrency used).
The distribution's own, optional web ACL (``WebAclArn``) is therefore not bypassable either.

``ApiDirectAccess=allow`` leaves the web ACL out, for teams that call the API's address
directly. Rotating the secret: ``OriginVerifyRotation`` (infra/README.md).
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.cdk.parameters import Parameters
from stratus.web.client_ip import ORIGIN_VERIFY_HEADER

# The refusal, in the functions' own error shape ({"detail": ...}).
REFUSAL_BODY_KEY = "direct"
REFUSAL = {"detail": "This API is served through its CloudFront address only."}


def origin_secret_value(secret: secretsmanager.ISecret, stage: str | None = None) -> str:
    """A dynamic reference CloudFormation resolves when it creates or updates the resource
    holding it: the template itself holds only the secret's ARN. No stage: the current value."""
    return cdk.SecretValue.secrets_manager(secret.secret_arn, version_stage=stage).unsafe_unwrap()


def build_api_guard(
    scope: Construct,
    params: Parameters,
    api: apigw.RestApi,
    origin_secret: secretsmanager.ISecret,
) -> wafv2.CfnWebACL:
    refuse = cdk.CfnCondition(
        scope,
        "ApiDirectAccessRefused",
        expression=cdk.Fn.condition_equals(params.api_direct_access.value_as_string, "refuse"),
    )
    rotated = cdk.CfnCondition(
        scope,
        "OriginVerifyRotated",
        expression=cdk.Fn.condition_not(
            cdk.Fn.condition_equals(params.origin_verify_rotation.value_as_string, "0")
        ),
    )
    current = _from_cloudfront(0, "current", origin_secret_value(origin_secret))
    # During a rotation CloudFront still sends the old value for a few minutes, from its edges.
    previous = _from_cloudfront(1, "previous", origin_secret_value(origin_secret, "AWSPREVIOUS"))
    acl = wafv2.CfnWebACL(
        scope,
        "ApiFirewall",
        scope="REGIONAL",
        description=cdk.Fn.join(
            "",
            [
                # WAF's description alphabet: no quotes or parentheses.
                "Stratus API admits CloudFront requests only, origin secret rotation ",
                params.origin_verify_rotation.value_as_string,
            ],
        ),
        default_action=wafv2.CfnWebACL.DefaultActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=403, custom_response_body_key=REFUSAL_BODY_KEY
                )
            )
        ),
        custom_response_bodies={
            REFUSAL_BODY_KEY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON", content=json.dumps(REFUSAL)
            )
        },
        visibility_config=_visibility("stratus-api-direct"),
    )
    acl.add_property_override(
        "Rules", [current, cdk.Fn.condition_if(rotated.logical_id, previous, cdk.Aws.NO_VALUE)]
    )
    association = wafv2.CfnWebACLAssociation(
        scope,
        "ApiFirewallOnStage",
        resource_arn=api.deployment_stage.stage_arn,
        web_acl_arn=acl.attr_arn,
    )
    for resource in (acl, association):
        resource.cfn_options.condition = refuse
    return acl


def _from_cloudfront(priority: int, label: str, value: str) -> dict[str, object]:
    """An allow rule for the header with this exact value. In CloudFormation's own spelling,
    since the rules are a property override (one of them sits inside an Fn::If)."""
    return {
        "Name": f"from-cloudfront-{label}",
        "Priority": priority,
        "Action": {"Allow": {}},
        "Statement": {
            "ByteMatchStatement": {
                "FieldToMatch": {"SingleHeader": {"Name": ORIGIN_VERIFY_HEADER}},
                "PositionalConstraint": "EXACTLY",
                "SearchString": value,
                "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
            }
        },
        "VisibilityConfig": {
            "CloudWatchMetricsEnabled": True,
            "MetricName": f"stratus-api-from-cloudfront-{label}",
            "SampledRequestsEnabled": True,
        },
    }


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
