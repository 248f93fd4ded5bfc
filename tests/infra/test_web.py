"""The web client on AWS: a private bucket read only through CloudFront's Origin Access Control,
the files the local server serves (same build, same paths, same bytes and headers), every API
path on an uncached behaviour to the API's stage, the local security headers, HTTPS only; and
the viewer's address, set by a CloudFront Function and vouched for by the origin's secret."""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from infra.cdk import profiles
from infra.cdk.routes import api_path_patterns
from infra.packaging.build import REPO
from local.composed import create_local_app
from local.webclient import is_web_path
from local.webclient.app import create_web_app
from local.webclient.assets import load_build
from local.webclient.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from stratus.web.client_ip import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from tests.infra.helpers import Template, joined, refs, resources, uploads_bucket
from tests.support.system_deps import require

# AWS's managed policies, by their documented ids.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


def _distribution(template: Template) -> dict[str, Any]:
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    config: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config


def _origins(template: Template) -> dict[str, dict[str, Any]]:
    return {o["Id"]: o for o in _distribution(template)["Origins"]}


def _api_origin_id(template: Template) -> str:
    (origin_id,) = [i for i, o in _origins(template).items() if "CustomOriginConfig" in o]
    return origin_id


def _bucket_id(template: Template) -> str:
    (bucket_id,) = [b for b in resources(template, "AWS::S3::Bucket") if b.startswith("WebClient")]
    return bucket_id


def cloudfront_matches(pattern: str, path: str) -> bool:
    """CloudFront's path patterns: '*' any run of characters (slashes too), '?' one, case
    sensitive, matched against the whole path."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def behavior_for(template: Template, path: str) -> dict[str, Any]:
    """The first cache behaviour whose pattern matches, else the default, as CloudFront picks."""
    config = _distribution(template)
    for behavior in config["CacheBehaviors"]:
        if cloudfront_matches(behavior["PathPattern"], path):
            return dict(behavior)
    return dict(config["DefaultCacheBehavior"])


def _served_paths() -> list[str]:
    """Every route of the composed app (what the local stack serves), path parameters filled."""
    paths = []
    for route in create_local_app().routes:
        if isinstance(route, HTTPRoute):
            paths.append(re.sub(r"\{[^}]+\}", "x", route.path))
    return sorted(set(paths))


def test_the_bucket_is_private_and_read_only_through_this_distribution(
    template: Template,
) -> None:
    bucket_id = _bucket_id(template)
    props = template["Resources"][bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in props
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if refs(p["Properties"]["Bucket"]) == {bucket_id}
    ]
    allows = [s for s in policy if s["Effect"] == "Allow"]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    # TLS only, and one reader: CloudFront, for this distribution alone, objects only.
    assert [d["Condition"] for d in denies] == [{"Bool": {"aws:SecureTransport": "false"}}]
    (allow,) = allows
    (distribution_id,) = resources(template, "AWS::CloudFront::Distribution")
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert joined(allow["Resource"]) == f"${{{bucket_id}.Arn}}/*"
    source = joined(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert source.endswith(f":distribution/${{{distribution_id}}}")
    # The page's origin is that bucket, signed with Origin Access Control (no OAI, no website).
    (access,) = resources(template, "AWS::CloudFront::OriginAccessControl").items()
    access_config = access[1]["Properties"]["OriginAccessControlConfig"]
    assert access_config["OriginAccessControlOriginType"] == "s3"
    assert access_config["SigningBehavior"] == "always"
    default = _distribution(template)["DefaultCacheBehavior"]
    page_origin = _origins(template)[default["TargetOriginId"]]
    assert refs(page_origin["DomainName"]) == {bucket_id}
    assert "RegionalDomainName" in json.dumps(page_origin["DomainName"])
    assert refs(page_origin["OriginAccessControlId"]) == {access[0]}
    assert page_origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_every_api_route_has_an_uncached_behaviour_to_the_api(template: Template) -> None:
    api_origin = _api_origin_id(template)
    behaviors = _distribution(template)["CacheBehaviors"]
    assert sorted(b["PathPattern"] for b in behaviors) == api_path_patterns()
    for behavior in behaviors:
        assert behavior["TargetOriginId"] == api_origin, behavior["PathPattern"]
        assert behavior["CachePolicyId"] == CACHING_DISABLED
        # Authorization, cookies and query strings reach the API; Host stays API Gateway's.
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
        assert set(behavior["AllowedMethods"]) == ALL_METHODS
        assert behavior["Compress"] is False
        assert "ResponseHeadersPolicyId" not in behavior
    # Every route the local stack serves outside the web client reaches the API, and the web
    # client's own paths reach the bucket.
    served = _served_paths()
    api_routes = [p for p in served if not is_web_path(p)]
    assert {"/api/chat/completions", "/v1/models", "/ollama/api/tags", "/healthz"} <= set(
        api_routes
    )
    for path in api_routes:
        assert behavior_for(template, path).get("TargetOriginId") == api_origin, path
    build = load_build()
    for path in ["/", "/index.html", *(f"/assets/{build.id}/{p}" for p in build.assets)]:
        assert behavior_for(template, path) == _distribution(template)["DefaultCacheBehavior"]


def test_the_path_patterns_follow_the_api_and_spare_the_web_client() -> None:
    patterns = api_path_patterns()
    assert {"/api/*", "/v1/*", "/ollama/*", "/ollama", "/healthz", "/readyz"} <= set(patterns)
    assert not [p for p in patterns if cloudfront_matches(p, "/") or p.startswith("/assets")]
    # CloudFront allows 25 cache behaviours per distribution unless AWS raises the quota.
    assert len(patterns) <= 25
    # The matcher itself tells paths apart the way CloudFront does.
    assert cloudfront_matches("/api/*", "/api/v1/auths/signin")
    assert not cloudfront_matches("/api/*", "/api")
    assert not cloudfront_matches("/ollama", "/ollama/api/tags")
    assert not fnmatch.fnmatchcase("/V1/models", "/v1/*")


def test_the_api_origin_is_the_stage_over_tls_with_a_chosen_read_timeout(
    template: Template,
) -> None:
    origin = _origins(template)[_api_origin_id(template)]
    (api_id,) = resources(template, "AWS::ApiGateway::RestApi")
    (stage_id,) = resources(template, "AWS::ApiGateway::Stage")
    assert ".execute-api." in joined(origin["DomainName"])
    assert refs(origin["DomainName"]) >= {api_id}
    assert refs(origin["OriginPath"]) >= {stage_id}
    custom = origin["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSSLProtocols"] == ["TLSv1.2"]
    assert custom["OriginReadTimeout"] == {"Ref": "WebApiReadTimeout"}
    # No completion timeout: a stream may run as long as API Gateway lets it (15 minutes).
    assert "ResponseCompletionTimeout" not in origin
    parameter = template["Parameters"]["WebApiReadTimeout"]
    assert parameter["Default"] == profiles.CDN_API_READ_TIMEOUT_SECONDS == 60
    assert parameter["MaxValue"] == profiles.CDN_API_READ_TIMEOUT_MAX_SECONDS == 180


def test_the_page_carries_the_local_security_headers(template: Template) -> None:
    default = _distribution(template)["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert _origins(template)[default["TargetOriginId"]].get("S3OriginConfig") is not None
    (policy_id,) = refs(default["ResponseHeadersPolicyId"])
    config = template["Resources"][policy_id]["Properties"]["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    # The local policy, but the page may also send a large file to the uploads bucket.
    policy = joined(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    bucket = joined(uploads_bucket(template)[1]["Properties"]["BucketName"])
    uploads = (
        f"https://{bucket}.s3.amazonaws.com https://{bucket}.s3.${{AWS::Region}}.amazonaws.com"
    )
    assert policy == CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self'", f"connect-src 'self' {uploads}"
    )
    assert policy != CONTENT_SECURITY_POLICY
    sent = {
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff" if "ContentTypeOptions" in security else None,
        "x-frame-options": security["FrameOptions"]["FrameOption"],
        "referrer-policy": security["ReferrerPolicy"]["ReferrerPolicy"],
        **{h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]},
    }
    assert sent == SECURITY_HEADERS
    every = [
        *(v for v in security.values() if isinstance(v, dict)),
        *config["CustomHeadersConfig"]["Items"],
    ]
    assert all(entry["Override"] is True for entry in every)
    # Only HTTPS can carry HSTS, so the cloud adds it.
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600


def test_https_only(template: Template) -> None:
    config = _distribution(template)
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    for behavior in config["CacheBehaviors"]:
        assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert config["DefaultRootObject"] == "index.html"
    # TLS 1.2 or later wherever the distribution can choose (a certificate of its own).
    certificate = config["ViewerCertificate"]["Fn::If"]
    assert certificate[0] == "WebCustomDomain"
    assert certificate[1]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert certificate[1]["SslSupportMethod"] == "sni-only"
    assert certificate[2] == {"CloudFrontDefaultCertificate": True}
    assert config["Aliases"]["Fn::If"][0] == "WebCustomDomain"


def test_one_origin_for_page_and_api(template: Template) -> None:
    outputs = template["Outputs"]
    (distribution_id,) = resources(template, "AWS::CloudFront::Distribution")
    url = joined(outputs["WebUrl"]["Value"]["Fn::If"][2])
    assert url == f"https://${{{distribution_id}.DomainName}}/"
    assert "ApiUrl" in outputs
    # CorsAllowOrigin is left as it was: the page needs no CORS on its own origin.
    assert template["Parameters"]["CorsAllowOrigin"]["Default"] == ""


def _deployments(template: Template) -> dict[str, dict[str, Any]]:
    return resources(template, "Custom::CDKBucketDeployment")


def _object_headers(path: str, response: Any) -> tuple[str, str]:
    return response.headers["content-type"], response.headers["cache-control"]


def test_the_deployed_files_are_what_the_local_server_serves(
    template: Template, web_assets: Path
) -> None:
    build = load_build()
    expected = {"index.html": build.index.body} | {
        f"assets/{build.id}/{path}": asset.body for path, asset in build.assets.items()
    }
    staged = {
        p.relative_to(web_assets).as_posix(): p.read_bytes()
        for p in web_assets.rglob("*")
        if p.is_file()
    }
    assert sorted(staged) == sorted(expected)
    assert staged == expected
    assert b"__ASSET_ROOT__" not in staged["index.html"]
    assert f"/assets/{build.id}/app/main.js".encode() in staged["index.html"]
    deployments = _deployments(template)
    bucket_id = _bucket_id(template)
    key = f"{web_assets.name}.zip"
    # Every key is uploaded by exactly one deployment (its include filters, as the AWS CLI
    # applies them after excluding everything), with the local server's content type and
    # cache policy for it.
    with TestClient(create_web_app()) as client:
        for name, body in staged.items():
            matching = [
                d["Properties"]
                for d in deployments.values()
                if any(fnmatch.fnmatchcase(name, p) for p in d["Properties"]["Include"])
            ]
            assert len(matching) == 1, name
            (props,) = matching
            response = client.get("/" if name == "index.html" else f"/{name}")
            assert response.status_code == 200, name
            assert response.content == body, name
            metadata = props["SystemMetadata"]
            assert (metadata["content-type"], metadata["cache-control"]) == _object_headers(
                name, response
            )
    for props in (d["Properties"] for d in deployments.values()):
        assert props["SourceObjectKeys"] == [key]
        assert props["Exclude"] == ["*"]
        assert props["Prune"] is True
        assert refs(props["DestinationBucketName"]) == {bucket_id}
    # The page goes up last, so it never names a build whose files are missing.
    (page_id,) = [k for k, d in deployments.items() if d["Properties"]["Include"] == ["index.html"]]
    waits_for = set(template["Resources"][page_id].get("DependsOn", []))
    assert {k for k in deployments if k != page_id} <= waits_for


def test_gzip_is_not_what_is_stored(web_assets: Path) -> None:
    # The bucket holds plain files; CloudFront compresses them for viewers that accept it.
    for path in web_assets.rglob("*.js"):
        with pytest.raises(gzip.BadGzipFile):
            gzip.decompress(path.read_bytes())


def test_the_upload_role_can_do_only_the_sync(template: Template) -> None:
    bucket_id = _bucket_id(template)
    functions = resources(template, "AWS::Lambda::Function")
    (handler,) = [f for k, f in functions.items() if k.startswith("CustomCDKBucketDeployment")]
    (role_id,) = refs(handler["Properties"]["Role"])
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    statements = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        if role_id in refs(p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"BuildArchive", "WebBucket", "WebObjects", "OwnLogGroup"}
    assert by_sid["BuildArchive"]["Action"] == "s3:GetObject"
    archive = joined(by_sid["BuildArchive"]["Resource"])
    assert archive.startswith("arn:${AWS::Partition}:s3:::cdk-")
    assert archive.endswith(
        f"/{next(iter(_deployments(template).values()))['Properties']['SourceObjectKeys'][0]}"
    )
    assert by_sid["WebBucket"]["Action"] == "s3:ListBucket"
    assert refs(by_sid["WebBucket"]["Resource"]) == {bucket_id}
    assert sorted(by_sid["WebObjects"]["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:PutObject",
    ]
    assert joined(by_sid["WebObjects"]["Resource"]) == f"${{{bucket_id}.Arn}}/*"


def _viewer_address_function(template: Template) -> tuple[str, dict[str, Any]]:
    ((function_id, function),) = resources(template, "AWS::CloudFront::Function").items()
    return function_id, function["Properties"]


def test_every_api_behaviour_and_only_those_set_the_viewer_address(template: Template) -> None:
    function_id, props = _viewer_address_function(template)
    assert props["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert props["AutoPublish"] is True  # associations run the LIVE stage only
    config = _distribution(template)
    for behavior in config["CacheBehaviors"]:
        assert behavior["FunctionAssociations"] == [
            {
                "EventType": "viewer-request",
                "FunctionARN": {"Fn::GetAtt": [function_id, "FunctionARN"]},
            }
        ], behavior["PathPattern"]
    # The page and its assets need no address (and a function on them would cost per request).
    assert "FunctionAssociations" not in config["DefaultCacheBehavior"]
    code = props["FunctionCode"]
    assert f'request.headers["{VIEWER_ADDRESS_HEADER}"] = {{ value: event.viewer.ip }}' in code


def _run_viewer_request(code: str, event: dict[str, Any], tmp_path: Path) -> Any:
    """The function's code under node, called as CloudFront calls a viewer-request handler."""
    script = tmp_path / "viewer_address.js"
    script.write_text(
        code
        + "\nhandler(JSON.parse(process.argv[2]))"
        + ".then((out) => process.stdout.write(JSON.stringify(out)));\n"
    )
    result = subprocess.run(
        [require("nodejs"), str(script), json.dumps(event)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def test_the_viewer_address_overwrites_whatever_the_viewer_sent(
    template: Template, tmp_path: Path
) -> None:
    _, props = _viewer_address_function(template)
    # CloudFront Functions' event structure: repeated headers arrive under multiValue.
    forged = {"value": "6.6.6.6", "multiValue": [{"value": "6.6.6.6"}, {"value": "7.7.7.7"}]}
    headers: dict[str, Any] = {"host": {"value": "d1.cloudfront.net"}}
    request_in: dict[str, Any] = {
        "method": "POST",
        "uri": "/api/v1/auths/signin",
        "querystring": {},
        "headers": {**headers, VIEWER_ADDRESS_HEADER: forged},
        "cookies": {},
    }
    event = {
        "version": "1.0",
        "context": {"eventType": "viewer-request", "distributionId": "EXAMPLE"},
        "viewer": {"ip": "2001:db8::7"},
        "request": request_in,
    }
    request = _run_viewer_request(props["FunctionCode"], event, tmp_path)
    assert request["headers"][VIEWER_ADDRESS_HEADER] == {"value": "2001:db8::7"}
    # Everything else goes on as it came.
    assert request["headers"]["host"] == {"value": "d1.cloudfront.net"}
    assert {k: v for k, v in request.items() if k != "headers"} == {
        k: v for k, v in request_in.items() if k != "headers"
    }
    # Without a header from the viewer, it is added.
    request_in["headers"] = headers
    added = _run_viewer_request(props["FunctionCode"], event, tmp_path)
    assert added["headers"][VIEWER_ADDRESS_HEADER] == {"value": "2001:db8::7"}


def test_only_the_api_origin_carries_cloudfronts_secret(template: Template) -> None:
    secrets = resources(template, "AWS::SecretsManager::Secret")
    (secret_id,) = [k for k in secrets if k.startswith("CdnOriginSecret")]
    api_origin = _api_origin_id(template)
    for origin_id, origin in _origins(template).items():
        if origin_id != api_origin:
            assert "OriginCustomHeaders" not in origin, origin_id
            continue
        (header,) = origin["OriginCustomHeaders"]
        assert header["HeaderName"] == ORIGIN_VERIFY_HEADER
        # A dynamic reference to the generated secret: the template holds its ARN, not its value.
        assert joined(header["HeaderValue"]) == (
            f"{{{{resolve:secretsmanager:${{{secret_id}}}:SecretString:::}}}}"
        )


def test_the_uploads_bucket_takes_presigned_posts_from_the_pages_origins_only(
    template: Template,
) -> None:
    """The page sends a file over the API's payload limit straight to the bucket (presigned
    POST): CORS admits the distribution's address and WebDomainName (when set), POST only."""
    _, bucket = uploads_bucket(template)
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule == profiles.uploads_cors_rule(rule["AllowedOrigins"])
    assert rule["AllowedMethods"] == ["POST"]
    assert "AllowedHeaders" not in rule
    distribution_id = next(iter(resources(template, "AWS::CloudFront::Distribution")))
    cloudfront, custom = rule["AllowedOrigins"]
    assert joined(cloudfront) == f"https://${{{distribution_id}.DomainName}}"
    assert custom["Fn::If"][0] == "WebCustomDomain"
    assert joined(custom["Fn::If"][1]) == "https://${WebDomainName}"
    assert custom["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    # The size the page switches at fits through the API with room to spare.
    assert profiles.LARGE_UPLOAD_BYTES < profiles.MAX_INLINE_BODY_BYTES
    script = (REPO / "web" / "assets" / "app" / "api.js").read_text()
    assert f"LARGE_UPLOAD_BYTES = {profiles.LARGE_UPLOAD_BYTES // 1024 // 1024} * 1024 * 1024" in (
        script
    )
