"""No way around CloudFront (matrix row 37): a call to the API's own execute-api address that did
not come through the stack's distribution is refused, by a WAF web ACL on the stage that admits
only CloudFront's origin secret; ``ApiDirectAccess=allow`` is the documented switch.

The web ACL's rules are evaluated here for a request (``admitted``): WAF's ByteMatch on one
header, EXACTLY, no text transformation, the first matching rule's action, else the default.
"""

from __future__ import annotations

from typing import Any

import pytest

from stratus.web.client_ip import ORIGIN_VERIFY_HEADER
from tests.infra.helpers import Template, alias_ids, function, refs, resources

SECRET = "s3cr3tfromsecretsmanager0123456789abcdefABCDEF"
PREVIOUS = "0ldvaluefromsecretsmanager0123456789abcdefABC"


def _acl(template: Template) -> tuple[str, dict[str, Any]]:
    ((acl_id, acl),) = resources(template, "AWS::WAFv2::WebACL").items()
    return acl_id, acl


def _resolved(value: Any, secrets: dict[str, str]) -> str:
    """A ``{{resolve:secretsmanager:<arn>:SecretString::<stage>}}`` reference as
    CloudFormation resolves it, for the given value per version stage."""
    assert set(value) == {"Fn::Join"}
    separator, parts = value["Fn::Join"]
    text = separator.join(p if isinstance(p, str) else "<ARN>" for p in parts)
    prefix = "{{resolve:secretsmanager:<ARN>:SecretString::"
    assert text.startswith(prefix), text
    assert text.endswith("}}"), text
    stage = text[len(prefix) : -2].strip(":") or "AWSCURRENT"
    return secrets[stage]


def admitted(
    template: Template,
    headers: dict[str, str],
    *,
    rotated: bool,
    secrets: dict[str, str],
) -> bool:
    _, acl = _acl(template)
    props = acl["Properties"]
    rules = []
    for rule in props["Rules"]:
        if "Fn::If" in rule:
            condition, when_true, when_false = rule["Fn::If"]
            assert condition == "OriginVerifyRotated"
            assert when_false == {"Ref": "AWS::NoValue"}
            if rotated:
                rules.append(when_true)
        else:
            rules.append(rule)
    for rule in sorted(rules, key=lambda r: r["Priority"]):
        match = rule["Statement"]["ByteMatchStatement"]
        assert match["PositionalConstraint"] == "EXACTLY"
        assert match["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]
        header = match["FieldToMatch"]["SingleHeader"]["Name"]
        wanted = _resolved(match["SearchString"], secrets)
        sent = {k.lower(): v for k, v in headers.items()}.get(header.lower())
        if sent == wanted:
            return "Allow" in rule["Action"]
    return "Allow" in props["DefaultAction"]


def test_the_stage_refuses_a_request_without_cloudfronts_secret(template: Template) -> None:
    _, acl = _acl(template)
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"]["Block"]["CustomResponse"]["ResponseCode"] == 403
    secrets = {"AWSCURRENT": SECRET}
    for rotated in (False, True):
        versions = {**secrets, "AWSPREVIOUS": PREVIOUS}
        assert not admitted(template, {}, rotated=rotated, secrets=versions)
        assert not admitted(
            template, {ORIGIN_VERIFY_HEADER: SECRET[:-1]}, rotated=rotated, secrets=versions
        )
        assert not admitted(
            template, {ORIGIN_VERIFY_HEADER: SECRET + "x"}, rotated=rotated, secrets=versions
        )
        assert not admitted(template, {"x-other": SECRET}, rotated=rotated, secrets=versions)
        assert admitted(template, {ORIGIN_VERIFY_HEADER: SECRET}, rotated=rotated, secrets=versions)
    # The previous value passes only while a rotation is under way (after the first one).
    versions = {**secrets, "AWSPREVIOUS": PREVIOUS}
    assert not admitted(template, {ORIGIN_VERIFY_HEADER: PREVIOUS}, rotated=False, secrets=versions)
    assert admitted(template, {ORIGIN_VERIFY_HEADER: PREVIOUS}, rotated=True, secrets=versions)


def test_the_web_acl_guards_this_apis_stage_unless_direct_access_is_allowed(
    template: Template,
) -> None:
    acl_id, acl = _acl(template)
    (association,) = resources(template, "AWS::WAFv2::WebACLAssociation").values()
    assert refs(association["Properties"]["WebACLArn"]) == {acl_id}
    (stage_id,) = resources(template, "AWS::ApiGateway::Stage")
    (api_id,) = resources(template, "AWS::ApiGateway::RestApi")
    arn = str(association["Properties"]["ResourceArn"])
    assert api_id in arn
    assert "/stages/" in arn
    stage = template["Resources"][stage_id]["Properties"]["StageName"]
    assert f"/stages/{stage}" in arn or stage_id in refs(association["Properties"]["ResourceArn"])
    # The switch, documented: refuse by default.
    parameter = template["Parameters"]["ApiDirectAccess"]
    assert parameter["Default"] == "refuse"
    assert parameter["AllowedValues"] == ["refuse", "allow"]
    assert template["Conditions"]["ApiDirectAccessRefused"] == {
        "Fn::Equals": [{"Ref": "ApiDirectAccess"}, "refuse"]
    }
    assert acl["Condition"] == association["Condition"] == "ApiDirectAccessRefused"


def test_cloudfront_sends_the_secret_the_web_acl_expects(template: Template) -> None:
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    headers = [
        h
        for origin in config["Origins"]
        for h in origin.get("OriginCustomHeaders", [])
        if h["HeaderName"] == ORIGIN_VERIFY_HEADER
    ]
    (header,) = headers
    secrets = {"AWSCURRENT": SECRET}
    assert _resolved(header["HeaderValue"], secrets) == SECRET
    (secret_id,) = [
        k for k in resources(template, "AWS::SecretsManager::Secret") if "CdnOriginSecret" in k
    ]
    assert refs(header["HeaderValue"]) == {secret_id}
    _, acl = _acl(template)
    for rule in acl["Properties"]["Rules"]:
        assert refs(rule) & {secret_id}


def test_a_rotation_updates_cloudfront_the_web_acl_and_the_functions(template: Template) -> None:
    """CloudFormation reads a dynamic reference again only when it updates the resource that
    holds it, and each function read the secret into its SnapStart snapshot: the rotation
    parameter is in each of them, so changing it renews them all."""
    rotation = {"Ref": "OriginVerifyRotation"}
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    assert rotation in distribution["Properties"]["DistributionConfig"]["Comment"]["Fn::Join"][1]
    _, acl = _acl(template)
    assert rotation in acl["Properties"]["Description"]["Fn::Join"][1]
    versions = resources(template, "AWS::Lambda::Version")
    aliases = resources(template, "AWS::Lambda::Alias")
    for name in ("auth", "chat", "rag"):
        alias = aliases[alias_ids(template)[name]]
        (version_id,) = refs(alias["Properties"]["FunctionVersion"])
        description = versions[version_id]["Properties"]["Description"]
        assert rotation in description["Fn::Join"][1], name
        # Lambda publishes a new version only from a changed configuration.
        assert rotation in function(template, name)["Description"]["Fn::Join"][1], name
    assert template["Parameters"]["OriginVerifyRotation"]["Default"] == "0"


@pytest.mark.parametrize("header", [ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_HEADER.upper()])
def test_header_names_match_whatever_their_case(template: Template, header: str) -> None:
    assert admitted(template, {header: SECRET}, rotated=False, secrets={"AWSCURRENT": SECRET})
