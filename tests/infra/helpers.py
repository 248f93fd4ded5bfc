"""Reading a synthesized CloudFormation template: resources, references, our functions."""

from __future__ import annotations

import json
from typing import Any

Template = dict[str, Any]

APP_FUNCTIONS = ("auth", "chat", "rag", "rag-ingest")


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# CDK's function that uploads the web client's files (with its AWS CLI layer).
CDK_UPLOADER = "CustomCDKBucketDeployment"


def own_layers(template: Template) -> dict[str, dict[str, Any]]:
    """The deps and stratus layers (not CDK's AWS CLI layer for its uploader)."""
    layers = resources(template, "AWS::Lambda::LayerVersion")
    return {k: v for k, v in layers.items() if "AwsCliLayer" not in k}


def uploads_bucket(template: Template) -> tuple[str, dict[str, Any]]:
    """The users' files bucket (the web client's is the other one)."""
    (found,) = [
        (k, v) for k, v in resources(template, "AWS::S3::Bucket").items() if k.startswith("Uploads")
    ]
    return found


def refs(value: Any) -> set[str]:
    """Every logical id a value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        for item in value.values():
            found |= refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= refs(item)
    return found


def function_ids(template: Template) -> dict[str, str]:
    """Our functions' logical ids by name (POWERTOOLS_SERVICE_NAME)."""
    ids = {}
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        name = env.get("POWERTOOLS_SERVICE_NAME")
        if name:
            ids[name] = logical_id
    return ids


def function(template: Template, name: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][function_ids(template)[name]]["Properties"]
    return props


def env(template: Template, name: str) -> dict[str, Any]:
    variables: dict[str, Any] = function(template, name)["Environment"]["Variables"]
    return variables


def alias_ids(template: Template) -> dict[str, str]:
    """Function name -> the logical id of its ``live`` alias."""
    by_function = {v: k for k, v in function_ids(template).items()}
    aliases = {}
    for logical_id, alias in resources(template, "AWS::Lambda::Alias").items():
        target = refs(alias["Properties"]["FunctionName"])
        for function_id in target & set(by_function):
            aliases[by_function[function_id]] = logical_id
    return aliases


def integrated_function(template: Template, method: dict[str, Any]) -> str | None:
    """Which of our functions an API method's integration invokes (through its alias)."""
    targets = refs(method["Properties"].get("Integration", {}).get("Uri"))
    names = [name for name, alias in alias_ids(template).items() if alias in targets]
    assert len(names) <= 1, names
    return names[0] if names else None


def joined(value: Any) -> str:
    """A string with references rendered as ${LogicalId}, to match against patterns."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return str(separator).join(joined(part) for part in parts)
        if "Ref" in value:
            return "${" + str(value["Ref"]) + "}"
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return "${" + (".".join(target) if isinstance(target, list) else str(target)) + "}"
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            return sub if isinstance(sub, str) else str(sub[0])
        if "Fn::Select" in value or "Fn::Split" in value or "Fn::If" in value:
            return json.dumps(value)
    return json.dumps(value)


def resource_paths(template: Template) -> dict[str, str]:
    """API Gateway resource logical id -> its full path ('/' for the root)."""
    api_ids = list(resources(template, "AWS::ApiGateway::RestApi"))
    assert len(api_ids) == 1
    items = resources(template, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id in paths:
            return paths[logical_id]
        props = items[logical_id]["Properties"]
        parent = props["ParentId"]
        parent_path = "/" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
        paths[logical_id] = parent_path.rstrip("/") + "/" + props["PathPart"]
        return paths[logical_id]

    for logical_id in items:
        path_of(logical_id)
    return paths


def methods_by_path(template: Template) -> dict[str, dict[str, Any]]:
    """'ANY /api/v1/auths' -> the method resource."""
    paths = resource_paths(template)
    found = {}
    for method in resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        resource = props["ResourceId"]
        path = "/" if "Fn::GetAtt" in resource else paths[resource["Ref"]]
        found[f"{props['HttpMethod']} {path}"] = method
    return found
