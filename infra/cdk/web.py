"""The web client on AWS: its files in a private bucket, and one CloudFront distribution that
serves them and sends every API path to the API's stage, so the page and the API share one
origin (no CORS).

- The bucket is private (public access blocked, no website hosting); CloudFront reads it through
  Origin Access Control, and its policy admits only this distribution.
- The files are ``infra.cdk.web_build``'s tree, uploaded at deploy time by CDK's
  ``BucketDeployment``: the assets with ``local.webclient.headers.IMMUTABLE``, the page with
  ``REVALIDATE``, each with the Content-Type the local server sends.
- The default behaviour serves the page (``/`` is ``index.html``) and the assets, cached, with the
  local server's security headers (``local.webclient.headers``) plus HSTS.
- One behaviour per API path pattern (``infra.cdk.routes.api_path_patterns``), uncached
  (``CachingDisabled``), every method, every viewer header but Host (``AllViewerExceptHostHeader``,
  so Authorization, cookies and query strings reach the API and API Gateway sees its own host),
  no compression (a streamed answer has no Content-Length, which CloudFront's compression needs,
  and the cache policy asks for none).
- Behind CloudFront, API Gateway sees a CloudFront server as the client. A CloudFront Function on
  every API behaviour (viewer request) writes the viewer's address into
  ``x-stratus-viewer-address``, and the API origin carries ``x-stratus-origin-verify`` with the
  stack's generated secret, which the functions compare before they believe that address
  (``stratus.web.client_ip``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.cdk import profiles
from infra.cdk.api_guard import origin_secret_value
from infra.cdk.parameters import Parameters
from infra.cdk.routes import api_path_patterns
from infra.cdk.web_build import INDEX_KEY, WebBuild, uploads
from local.webclient.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from stratus.web.client_ip import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER

# The headers CloudFront sets through its security-headers configuration; every other header of
# local.webclient.headers.SECURITY_HEADERS becomes a custom header.
CSP = "content-security-policy"
CONTENT_TYPE_OPTIONS = "x-content-type-options"
FRAME_OPTIONS = "x-frame-options"
REFERRER_POLICY = "referrer-policy"
# HTTPS only here (the local stack serves plain HTTP on loopback, so it sends no HSTS).
HSTS_MAX_AGE_DAYS = 365
# The deployment function only copies a few hundred kilobytes.
DEPLOY_MEMORY_MB = 512
# CloudFront's viewer security policy with a custom certificate: TLS 1.2 and later.
TLS_POLICY = "TLSv1.2_2021"
API_ORIGIN_INDEX = 1  # the bucket is origin 0 (the default behaviour's), the API origin 1
# The viewer's address as CloudFront saw it, set on every API request. Assigning the header
# replaces every value the viewer sent under that name (CloudFront Functions' event structure:
# a header is one object, its other values under ``multiValue``).
VIEWER_ADDRESS_CODE = f"""\
async function handler(event) {{
  var request = event.request;
  request.headers[{json.dumps(VIEWER_ADDRESS_HEADER)}] = {{ value: event.viewer.ip }};
  return request;
}}
"""

EnumT = TypeVar("EnumT", bound=Enum)


@dataclass(frozen=True)
class Web:
    bucket: s3.Bucket
    distribution: cloudfront.Distribution
    url: str
    # Where the page is served from: the distribution's name, and WebDomainName when set
    # (an Fn::If, empty otherwise), as CORS origins (https://host, no path).
    origins: list[object]


def build_web(
    scope: Construct,
    params: Parameters,
    api: apigw.RestApi,
    build: WebBuild,
    origin_secret: secretsmanager.ISecret,
    uploads_bucket_name: str,
) -> Web:
    suffix = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
    bucket = s3.Bucket(
        scope,
        "WebClient",
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        # Built from the repository on every deploy: kept when the stack is deleted (a bucket
        # must be empty to be deleted), to be emptied and deleted by hand.
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    access_control = cloudfront.S3OriginAccessControl(
        scope,
        "WebOriginAccess",
        # Account-wide names: the stack's id keeps two regions' stacks apart.
        origin_access_control_name=cdk.Fn.join("-", ["stratus-web", suffix]),
        signing=cloudfront.Signing.SIGV4_ALWAYS,
    )
    page_origin = origins.S3BucketOrigin.with_origin_access_control(
        bucket,
        origin_access_control=access_control,
        origin_access_levels=[cloudfront.AccessLevel.READ],
    )
    api_origin = origins.RestApiOrigin(
        api,
        read_timeout=cdk.Duration.seconds(profiles.CDN_API_READ_TIMEOUT_SECONDS),
        # A {{resolve:secretsmanager:...}} reference: CloudFormation reads the value when it
        # creates or updates the distribution, and the template holds only the ARN.
        custom_headers={ORIGIN_VERIFY_HEADER: origin_secret_value(origin_secret)},
    )
    viewer_address = cloudfront.Function(
        scope,
        "WebViewerAddress",
        function_name=cdk.Fn.join("-", ["stratus-viewer-address", suffix]),
        comment=f"Sets {VIEWER_ADDRESS_HEADER} to the viewer's IP on API requests",
        code=cloudfront.FunctionCode.from_inline(VIEWER_ADDRESS_CODE),
        runtime=cloudfront.FunctionRuntime.JS_2_0,
    )
    api_behavior = cloudfront.BehaviorOptions(
        origin=api_origin,
        # Credentials sent over plain HTTP are refused, not redirected (a redirect would drop
        # the body and the credentials have already been sent).
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        compress=False,
        # AllViewerExceptHostHeader forwards the header the function sets, as every viewer one.
        function_associations=[
            cloudfront.FunctionAssociation(
                function=viewer_address, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
            )
        ],
    )
    distribution = cloudfront.Distribution(
        scope,
        "WebDistribution",
        # The rotation parameter in the comment: changing it updates the distribution, which
        # makes CloudFormation read the origin secret again (infra/cdk/api_guard.py).
        comment=cdk.Token.as_string(
            cdk.Fn.join(
                "",
                [
                    "Stratus: the web client and its API on one origin (origin secret rotation ",
                    params.origin_verify_rotation.value_as_string,
                    ")",
                ],
            )
        ),
        default_root_object=INDEX_KEY,
        default_behavior=cloudfront.BehaviorOptions(
            origin=page_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            response_headers_policy=_headers_policy(scope, suffix, uploads_bucket_name),
            compress=True,
        ),
        additional_behaviors=dict.fromkeys(api_path_patterns(), api_behavior),
        http_version=cloudfront.HttpVersion.HTTP2_AND_3,
        # North America and Europe's edges: the cheapest class; viewers elsewhere are served
        # from those edges.
        price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        enable_ipv6=True,
    )
    custom_domain = _custom_domain(scope, params, distribution)
    cfn = distribution.node.default_child
    assert isinstance(cfn, cloudfront.CfnDistribution)
    cfn.add_property_override(
        f"DistributionConfig.Origins.{API_ORIGIN_INDEX}.CustomOriginConfig.OriginReadTimeout",
        params.web_api_read_timeout.value_as_number,
    )
    firewall = cdk.CfnCondition(
        scope,
        "WebFirewall",
        expression=cdk.Fn.condition_not(
            cdk.Fn.condition_equals(params.web_acl_arn.value_as_string, "")
        ),
    )
    cfn.add_property_override(
        "DistributionConfig.WebACLId",
        cdk.Fn.condition_if(
            firewall.logical_id, params.web_acl_arn.value_as_string, cdk.Aws.NO_VALUE
        ),
    )
    _upload(scope, bucket, build)
    url = cdk.Token.as_string(
        cdk.Fn.condition_if(
            custom_domain.logical_id,
            cdk.Fn.join("", ["https://", params.web_domain_name.value_as_string, "/"]),
            cdk.Fn.join("", ["https://", distribution.distribution_domain_name, "/"]),
        )
    )
    page_origins: list[object] = [
        cdk.Fn.join("", ["https://", distribution.distribution_domain_name]),
        cdk.Fn.condition_if(
            custom_domain.logical_id,
            cdk.Fn.join("", ["https://", params.web_domain_name.value_as_string]),
            cdk.Aws.NO_VALUE,
        ),
    ]
    return Web(bucket, distribution, url, page_origins)


def upload_sources(bucket_name: str) -> list[str]:
    """The uploads bucket's addresses a presigned POST may name (boto3 names the global or the
    regional one), for the page's connect-src."""
    return [
        cdk.Fn.join("", ["https://", bucket_name, ".s3.amazonaws.com"]),
        cdk.Fn.join("", ["https://", bucket_name, ".s3.", cdk.Aws.REGION, ".amazonaws.com"]),
    ]


def content_security_policy(bucket_name: str) -> str:
    """The local page's policy, with the uploads bucket added to connect-src: the page sends
    large files straight to it (presigned POST), the only other address it may reach."""
    directive = "connect-src 'self'"
    if directive not in CONTENT_SECURITY_POLICY.split("; "):
        raise ValueError(f"the local policy has no {directive!r} to extend")
    before, after = CONTENT_SECURITY_POLICY.split(directive, 1)
    return cdk.Fn.join(
        "", [before, directive, " ", cdk.Fn.join(" ", upload_sources(bucket_name)), after]
    )


def _with_uploads(policy: str, bucket_name: str) -> str:
    if policy != CONTENT_SECURITY_POLICY:
        raise ValueError("the page's policy is local.webclient.headers.CONTENT_SECURITY_POLICY")
    return content_security_policy(bucket_name)


def _custom_domain(
    scope: Construct, params: Parameters, distribution: cloudfront.Distribution
) -> cdk.CfnCondition:
    """With WebDomainName and its certificate: that name, and viewers on TLS 1.2 or later.
    Without: the cloudfront.net name, whose certificate CloudFront serves with TLSv1 as its
    minimum whatever the distribution asks (its documentation says so)."""
    domain = params.web_domain_name.value_as_string
    certificate = params.web_certificate_arn.value_as_string
    # On the certificate (the rule below ties the two): cfn-lint then knows the ARN is set
    # wherever the condition holds.
    custom = cdk.CfnCondition(
        scope,
        "WebCustomDomain",
        expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(certificate, "")),
    )
    cdk.CfnRule(
        scope,
        "WebDomainWithCertificate",
        assertions=[
            cdk.CfnRuleAssertion(
                assert_=cdk.Fn.condition_or(
                    cdk.Fn.condition_and(
                        cdk.Fn.condition_equals(domain, ""),
                        cdk.Fn.condition_equals(certificate, ""),
                    ),
                    cdk.Fn.condition_and(
                        cdk.Fn.condition_not(cdk.Fn.condition_equals(domain, "")),
                        cdk.Fn.condition_not(cdk.Fn.condition_equals(certificate, "")),
                    ),
                ),
                assert_description="WebDomainName and WebCertificateArn are set together",
            )
        ],
    )
    cfn = distribution.node.default_child
    assert isinstance(cfn, cloudfront.CfnDistribution)
    cfn.add_property_override(
        "DistributionConfig.Aliases",
        cdk.Fn.condition_if(custom.logical_id, [domain], cdk.Aws.NO_VALUE),
    )
    cfn.add_property_override(
        "DistributionConfig.ViewerCertificate",
        cdk.Fn.condition_if(
            custom.logical_id,
            {
                "AcmCertificateArn": certificate,
                "SslSupportMethod": "sni-only",
                "MinimumProtocolVersion": TLS_POLICY,
            },
            {"CloudFrontDefaultCertificate": True},
        ),
    )
    # CDK's template check reads the Fn::If as a certificate with neither branch's keys.
    cdk.Validations.of(distribution).acknowledge(
        cdk.Acknowledgment(
            id="CloudFormation-Validate::F3014",
            reason="Each branch of the Fn::If names exactly one certificate",
        )
    )
    return custom


def _headers_policy(
    scope: Construct, suffix: str, uploads_bucket_name: str
) -> cloudfront.ResponseHeadersPolicy:
    """``local.webclient.headers.SECURITY_HEADERS``, every one of them, as CloudFront sets
    them: the four it models (CSP, nosniff, frame and referrer policies) through its security
    headers, the rest as custom headers; and HSTS, which only HTTPS can carry."""
    headers = dict(SECURITY_HEADERS)
    if headers.pop(CONTENT_TYPE_OPTIONS) != "nosniff":
        raise ValueError(f"CloudFront can only send {CONTENT_TYPE_OPTIONS}: nosniff")
    frame = _enum(cloudfront.HeadersFrameOption, headers.pop(FRAME_OPTIONS))
    referrer = _enum(cloudfront.HeadersReferrerPolicy, headers.pop(REFERRER_POLICY))
    return cloudfront.ResponseHeadersPolicy(
        scope,
        "WebHeaders",
        response_headers_policy_name=cdk.Fn.join("-", ["stratus-web", suffix]),
        comment="The local web client's security headers (local/webclient/headers.py), and HSTS",
        security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                content_security_policy=_with_uploads(headers.pop(CSP), uploads_bucket_name),
                override=True,
            ),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            frame_options=cloudfront.ResponseHeadersFrameOptions(frame_option=frame, override=True),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                referrer_policy=referrer, override=True
            ),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=cdk.Duration.days(HSTS_MAX_AGE_DAYS),
                include_subdomains=False,
                override=True,
            ),
        ),
        custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
            custom_headers=[
                cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
                for name, value in sorted(headers.items())
            ]
        ),
    )


def _enum(kind: type[EnumT], value: str) -> EnumT:
    """The member for a header's value (``no-referrer`` is ``NO_REFERRER``); the template's
    rendering is compared with the header by the tests."""
    try:
        return kind[value.upper().replace("-", "_")]
    except KeyError:
        raise ValueError(f"CloudFront has no {kind.__name__} {value!r}") from None


def _upload(scope: Construct, bucket: s3.Bucket, build: WebBuild) -> None:
    """Upload the build: one deployment per content type and cache policy (``uploads()``),
    each syncing only its own files (and deleting only its own stale ones: an old build's),
    the page last, so it never names a build whose files are not there yet."""
    asset = s3_assets.Asset(
        scope,
        "WebFiles",
        path=str(build.directory),
        # The build's own hash (keys, types and contents), so the template names exactly it.
        asset_hash=build.digest,
        asset_hash_type=cdk.AssetHashType.CUSTOM,
    )
    role = _deploy_role(scope, bucket, asset)
    log_group = logs.LogGroup(
        scope,
        "WebDeployLogs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="OwnLogGroup",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    source = s3deploy.Source.bucket(asset.bucket, asset.s3_object_key)
    deployments = []
    for upload in uploads():
        deployment = s3deploy.BucketDeployment(
            scope,
            "WebUpload" + _camel(upload.content_type.split(";")[0]),
            sources=[source],
            destination_bucket=bucket,
            exclude=["*"],
            include=list(upload.patterns),
            prune=True,
            content_type=upload.content_type,
            cache_control=[s3deploy.CacheControl.from_string(upload.cache_control)],
            # Its grants go nowhere: the role below holds exactly what the sync needs.
            role=role.without_policy_updates(),
            log_group=log_group,
            memory_limit=DEPLOY_MEMORY_MB,
        )
        deployments.append(deployment)
    *assets, page = deployments
    for deployment in assets:
        page.node.add_dependency(deployment)
    # The deployments share one function (same memory, no VPC), which carries the first one's
    # AWS CLI layer; the others' copies of that layer would be published and never used.
    for deployment in deployments[1:]:
        deployment.node.try_remove_child("AwsCliLayer")


def _deploy_role(scope: Construct, bucket: s3.Bucket, asset: s3_assets.Asset) -> iam.Role:
    """What ``aws s3 sync --delete`` from the build's zip needs, and nothing else: read that
    one object of CDK's asset bucket; list the web bucket, put and delete its objects."""
    role = iam.Role(
        scope,
        "WebDeployRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Uploads the web client's build into its bucket at deploy time",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="BuildArchive",
            actions=["s3:GetObject"],
            resources=[asset.bucket.arn_for_objects(asset.s3_object_key)],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WebBucket", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WebObjects",
            actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[bucket.arn_for_objects("*")],
        )
    )
    return role


def _camel(content_type: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", content_type) if part)
