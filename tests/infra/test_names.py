"""No fixed physical names: a second stack in the same account and region must not collide.

Every create-only name property (``Name``, ``...Name``, ``...Identifier``) of every resource type
in the template, as CloudFormation's resource schemas (cfn-lint's copy) list them, is either
left for CloudFormation to generate, refers to another resource, or is made from the stack's
own id or name. A few are names inside another resource, listed with why.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # type: ignore[import-untyped]

from tests.infra.helpers import Template, refs

# Names that live inside one parent resource, not in the account: they cannot collide.
SCOPED_NAMES = {
    ("AWS::Lambda::Alias", "Name"): "an alias of one function (every function's is 'live')",
    ("AWS::ApiGateway::Stage", "StageName"): "a stage of one REST API",
    ("AWS::RDS::DBProxyTargetGroup", "TargetGroupName"): "RDS Proxy's one target group, 'default'",
    ("AWS::RDS::DBInstance", "DBName"): "the database inside this instance",
}
# Name properties that name something else (not the resource itself).
OTHERS_NAMES = {
    ("AWS::EC2::VPCEndpoint", "ServiceName"): "the AWS service the endpoint reaches",
}
NAME_PROPERTY = re.compile(r"^(\w*Name|\w*Identifier)$")
STACK_UNIQUE = {"AWS::StackId", "AWS::StackName"}


def _name_properties(kind: str) -> list[str]:
    """The create-only, top-level name properties of a resource type."""
    if not kind.startswith("AWS::"):
        return []
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
    names = []
    for pointer in schema.get("createOnlyProperties", []):
        parts = pointer.split("/")
        if len(parts) == 3 and parts[1] == "properties" and NAME_PROPERTY.match(parts[2]):
            names.append(parts[2])
    return names


def fixed_names(template: Template) -> list[str]:
    found = []
    own = set(template["Resources"])
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        props: dict[str, Any] = resource.get("Properties", {})
        for name in _name_properties(kind):
            if name not in props or (kind, name) in SCOPED_NAMES.keys() | OTHERS_NAMES.keys():
                continue
            value = props[name]
            referred = refs(value)
            # Another resource's name, or one made from this stack's id or name.
            if referred & own or referred & STACK_UNIQUE:
                continue
            found.append(f"{logical_id} ({kind}).{name} = {value!r}")
    return found


def test_no_resource_has_a_fixed_physical_name(template: Template) -> None:
    assert fixed_names(template) == []


def test_the_walk_knows_the_name_properties_it_must_check() -> None:
    assert "DBProxyName" in _name_properties("AWS::RDS::DBProxy")
    assert "BucketName" in _name_properties("AWS::S3::Bucket")
    assert "FunctionName" in _name_properties("AWS::Lambda::Function")
    assert "RoleName" in _name_properties("AWS::IAM::Role")
    assert "TableName" in _name_properties("AWS::DynamoDB::Table")


def test_the_walk_finds_a_fixed_name(template: Template) -> None:
    broken = copy.deepcopy(template)
    (proxy_id,) = [k for k, v in broken["Resources"].items() if v["Type"] == "AWS::RDS::DBProxy"]
    broken["Resources"][proxy_id]["Properties"]["DBProxyName"] = "DatabaseProxy"
    (table_id,) = [k for k, v in broken["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"]
    broken["Resources"][table_id]["Properties"]["TableName"] = "stratus"
    found = fixed_names(broken)
    assert len(found) == 2
    assert any("DBProxyName = 'DatabaseProxy'" in f for f in found)
