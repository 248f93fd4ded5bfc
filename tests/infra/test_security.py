"""Least privilege: each role holds only its own table actions, bucket prefix and secrets; no
wildcard action anywhere, no '*' resource unless justified below. And the network: who may
reach the GPU host, the database and the endpoints."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.infra.helpers import Template, joined, refs, resources, uploads_bucket

# Statements allowed to name "*" as their resource, each with its reason.
JUSTIFIED_STAR_RESOURCES = {
    "LambdaVpcNetworkInterfaces": (
        "Lambda manages a VPC function's network interfaces with these EC2 calls, which EC2 "
        "does not scope to resources (AWS's AWSLambdaVPCAccessExecutionRole grants them on *)."
    ),
    "TracesToXRay": (
        "The X-Ray daemon of an actively traced function sends its segments with the function's "
        "role; X-Ray has no resource-level permissions (AWSXRayDaemonWriteAccess: '*')."
    ),
    "DescribeModelHostGroup": (
        "The wake controller reads the GPU group's capacity; DescribeAutoScalingGroups has no "
        "resource-level permission in IAM, so '*' is its only form (a read, no write)."
    ),
}
WAKE = {"autoscaling:SetDesiredCapacity", "autoscaling:DescribeAutoScalingGroups"}
# AWS managed policies a role may carry, each with its reason.
JUSTIFIED_MANAGED_POLICIES = {
    "AmazonSSMManagedInstanceCore": "GPU host: Session Manager shell, no SSH key or open port",
    "AWSLambdaBasicExecutionRole": "CDK's deploy-time helper functions write their own logs",
    "AmazonAPIGatewayPushToCloudWatchLogs": "API Gateway's account role for access logs",
}
# What each function's role may do, besides its logs and network interfaces.
EXPECTED_DATA_ACTIONS = {
    "auth": {
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "s3:DeleteObject",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
    },
    "chat": {
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        *WAKE,
    },
    "rag": {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        *WAKE,
    },
    "rag-ingest": {
        "s3:GetObject",
        "s3:ListBucket",
        "sqs:SendMessage",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        *WAKE,
    },
}
BASELINE = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "ec2:CreateNetworkInterface",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def _statements(template: Template) -> list[tuple[str, str, dict[str, Any]]]:
    """(policy id, role id, statement) for every IAM statement attached to a role."""
    found = []
    for policy_id, policy in resources(template, "AWS::IAM::Policy").items():
        for role in refs(policy["Properties"].get("Roles", [])):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found.append((policy_id, role, statement))
    for role_id, role_resource in resources(template, "AWS::IAM::Role").items():
        for inline in role_resource["Properties"].get("Policies", []):
            for statement in inline["PolicyDocument"]["Statement"]:
                found.append((role_id, role_id, statement))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def violations(template: Template) -> list[str]:
    """Wildcard actions anywhere; '*' resources or unlisted managed policies unless justified."""
    problems = []
    for policy_id, _, statement in _statements(template):
        for action in _as_list(statement["Action"]):
            if "*" in action:
                problems.append(f"{policy_id}: wildcard action {action}")
        for resource in _as_list(statement.get("Resource", [])):
            if resource == "*" and statement.get("Sid") not in JUSTIFIED_STAR_RESOURCES:
                problems.append(f"{policy_id}: '*' resource for {statement['Action']}")
            elif joined(resource) in {"arn:${AWS::Partition}:s3:::*", "*/*"}:
                problems.append(f"{policy_id}: every bucket")
    for role_id, role in resources(template, "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            name = joined(arn).rsplit("/", 1)[-1]
            if name not in JUSTIFIED_MANAGED_POLICIES:
                problems.append(f"{role_id}: managed policy {name}")
    return problems


def test_no_unjustified_wildcards(template: Template) -> None:
    assert violations(template) == []


def test_the_check_catches_a_wildcard(template: Template) -> None:
    broken = copy.deepcopy(template)
    policy = next(iter(resources(broken, "AWS::IAM::Policy").values()))
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    )
    role = next(iter(resources(broken, "AWS::IAM::Role").values()))
    role["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    problems = violations(broken)
    assert any("wildcard action s3:*" in p for p in problems)
    assert any("'*' resource" in p for p in problems)
    assert any("AdministratorAccess" in p for p in problems)


def _role_of(template: Template, name: str) -> str:
    for _logical_id, function in resources(template, "AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == name:
            (role,) = refs(function["Properties"]["Role"])
            return role
    raise AssertionError(name)


def test_each_function_holds_only_its_own_actions_on_its_own_resources(
    template: Template,
) -> None:
    table = next(iter(resources(template, "AWS::DynamoDB::Table")))
    _, bucket = uploads_bucket(template)
    bucket_name = json.dumps(bucket["Properties"]["BucketName"])
    secrets = resources(template, "AWS::SecretsManager::Secret")
    key = next(iter(resources(template, "AWS::KMS::Key")))
    signing_key = next(k for k in secrets if k.startswith("SigningKey"))
    token = next(k for k in secrets if k.startswith("OllamaApiKey"))
    cdn = next(k for k in secrets if k.startswith("CdnOriginSecret"))
    (database_secret,) = resources(template, "AWS::SecretsManager::SecretTargetAttachment")
    # The database URL's secret: the stack's credentials, or the ExistingDatabaseUrlArn parameter.
    database_url = {
        "Fn::If": ["DatabaseOwn", {"Ref": database_secret}, {"Ref": "ExistingDatabaseUrlArn"}]
    }
    own_secrets = {
        name: [{"Ref": signing_key}, database_url]
        + ([{"Ref": token}] if name in {"chat", "rag", "rag-ingest"} else [])
        # CloudFront's origin secret: the functions behind its API behaviours only.
        + ([{"Ref": cdn}] if name in {"auth", "chat", "rag"} else [])
        for name in EXPECTED_DATA_ACTIONS
    }
    for name, expected in EXPECTED_DATA_ACTIONS.items():
        role = _role_of(template, name)
        statements = [s for _, r, s in _statements(template) if r == role]
        actions = {a for s in statements for a in _as_list(s["Action"])}
        assert (
            actions
            - BASELINE
            - {
                a
                for s in statements
                if s.get("Sid") == "LambdaVpcNetworkInterfaces"
                for a in s["Action"]
            }
            == expected
        ), name
        for statement in statements:
            targets = _as_list(statement["Resource"])
            service = _as_list(statement["Action"])[0].split(":")[0]
            if service == "dynamodb":
                assert refs(targets) == {table}, name
            elif service == "s3":
                for target in targets:
                    assert bucket_name in json.dumps(target), name
                    if "Object" in statement["Action"][0]:
                        assert joined(target).endswith("/files/*"), name
            elif service == "secretsmanager":
                # Only GetSecretValue, only on its own secrets: auth never reads the token.
                assert statement["Action"] == "secretsmanager:GetSecretValue", name
                assert targets == own_secrets[name], name
            elif service == "kms":
                assert refs(targets) == {key}
                assert statement["Condition"]["StringEquals"]["kms:ViaService"]
            elif service == "autoscaling":
                # The GPU group only (DescribeAutoScalingGroups: justified above).
                assert statement["Resource"] == "*" or "autoScalingGroupName/" in joined(
                    statement["Resource"]
                ), name
            elif service == "xray":
                assert statement["Sid"] == "TracesToXRay", name
            elif service == "logs":
                (group,) = refs(targets)
                assert resources(template, "AWS::Logs::LogGroup")[group]


def test_gpu_host_admits_only_its_balancer_which_admits_only_chat_and_rag(
    template: Template,
) -> None:
    groups = resources(template, "AWS::EC2::SecurityGroup")
    ingress = resources(template, "AWS::EC2::SecurityGroupIngress").values()
    host = next(k for k in groups if k.startswith("GpuHostSecurityGroup"))
    balancer = next(k for k in groups if k.startswith("GpuBalancerSecurityGroup"))

    def rules_into(group: str) -> list[dict[str, Any]]:
        inline: list[dict[str, Any]] = groups[group]["Properties"].get("SecurityGroupIngress", [])
        return inline + [
            i["Properties"] for i in ingress if refs(i["Properties"]["GroupId"]) == {group}
        ]

    (host_rule,) = rules_into(host)
    assert refs(host_rule["SourceSecurityGroupId"]) == {balancer}
    assert (host_rule["FromPort"], host_rule["ToPort"], host_rule["IpProtocol"]) == (
        8080,
        8080,
        "tcp",
    )
    sources = set()
    for rule in rules_into(balancer):
        assert (rule["FromPort"], rule["ToPort"]) == (8080, 8080)
        sources |= refs(rule["SourceSecurityGroupId"])
    assert {s.split("SecurityGroup")[0] for s in sources} == {"Chat", "Rag", "RagIngest"}


def test_database_admits_only_the_proxy_and_the_proxy_only_functions(template: Template) -> None:
    groups = resources(template, "AWS::EC2::SecurityGroup")
    ingress = [
        i["Properties"] for i in resources(template, "AWS::EC2::SecurityGroupIngress").values()
    ]
    database = next(k for k in groups if k.startswith("DatabaseSecurityGroup"))
    proxy = next(k for k in groups if k.startswith("DatabaseProxySecurityGroup"))
    into_db = [i for i in ingress if refs(i["GroupId"]) == {database}]
    # (CDK's proxy construct adds the same rule a second time.)
    assert {frozenset(refs(i["SourceSecurityGroupId"])) for i in into_db} == {frozenset({proxy})}
    into_proxy = {
        next(iter(refs(i["SourceSecurityGroupId"]))).split("SecurityGroup")[0]
        for i in ingress
        if refs(i["GroupId"]) == {proxy}
    }
    assert into_proxy == {"Auth", "Chat", "Rag", "RagIngest", "Migrate"}
    for group in groups.values():
        for rule in group["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0"


def test_endpoints_for_dynamodb_s3_and_secrets_manager(template: Template) -> None:
    endpoints = resources(template, "AWS::EC2::VPCEndpoint").values()
    by_service = {joined(e["Properties"]["ServiceName"]).split(".")[-1]: e for e in endpoints}
    assert set(by_service) == {"dynamodb", "s3", "secretsmanager"}
    assert by_service["dynamodb"]["Properties"]["VpcEndpointType"] == "Gateway"
    assert by_service["s3"]["Properties"]["VpcEndpointType"] == "Gateway"
    secrets = by_service["secretsmanager"]["Properties"]
    assert secrets["VpcEndpointType"] == "Interface"
    assert secrets["PrivateDnsEnabled"] is True
    table = next(iter(resources(template, "AWS::DynamoDB::Table")))
    (statement,) = by_service["dynamodb"]["Properties"]["PolicyDocument"]["Statement"]
    assert refs(statement["Resource"]) == {table}
    (statement,) = by_service["s3"]["Properties"]["PolicyDocument"]["Statement"]
    assert all(uploads_bucket(template)[0] in refs(r) for r in statement["Resource"])


def test_functions_reach_the_internet_only_when_the_parameter_says_so(template: Template) -> None:
    assert template["Parameters"]["FunctionsInternetEgress"]["Default"] == "false"
    routes = resources(template, "AWS::EC2::Route")
    functions_routes = {k: v for k, v in routes.items() if k.startswith("FunctionsEgressRoute")}
    assert len(functions_routes) == 2
    for route in functions_routes.values():
        assert route["Condition"] == "FunctionsEgressEnabled"
        assert route["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    # No other route leaves a functions subnet.
    unconditional = [
        r
        for k, r in routes.items()
        if "functions" in json.dumps(r["Properties"]["RouteTableId"]) and "Condition" not in r
    ]
    assert unconditional == []
