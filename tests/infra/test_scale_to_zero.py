"""Scale to zero in the template (issue 15): the GPU group may reach 0, a warm pool keeps one
stopped host ready, an alarm on the functions' ModelHostRequests sets the capacity to 0 after
GpuIdleMinutes without inference, the functions may wake that group and no other, and the
"no healthy host" alarm stays quiet while the group is at 0 on purpose.

The alarms' metric math is evaluated here for one minute's values (``evaluate``): CloudWatch's
IF/AND/FILL on scalars, which is what each period's data point is.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra.cdk.gpu import IDLE_SCALE_IN_COOLDOWN_SECONDS
from infra.gpu_host.user_data import HostParameters
from tests.infra.helpers import Template, env, joined, refs, resources
from tests.infra.test_security import _role_of, _statements

MODEL_CLIENTS = ("chat", "rag", "rag-ingest")


def evaluate(expression: str, values: dict[str, float | None]) -> float:
    """One data point of a CloudWatch metric math expression (IF, AND, OR, FILL, comparisons,
    arithmetic); a query id with no data is None."""

    def fill(value: float | None, default: float) -> float:
        return default if value is None else value

    def if_(condition: object, then: float, otherwise: float) -> float:
        return then if condition else otherwise

    python = re.sub(r"\bAND\b", " and ", expression)
    python = re.sub(r"\bOR\b", " or ", python)
    python = re.sub(r"\bIF\(", "if_(", python)
    python = re.sub(r"\bFILL\(", "fill(", python)
    if not re.fullmatch(r"[\w\s().,<>=!+*/-]*", python):
        raise ValueError(f"unexpected syntax in {expression!r}")
    scope: dict[str, Any] = {"__builtins__": {}, "if_": if_, "fill": fill, **values}
    return float(eval(python, scope))  # noqa: S307 (checked above: names, numbers, operators)


def _group(template: Template) -> tuple[str, dict[str, Any]]:
    ((group_id, group),) = resources(template, "AWS::AutoScaling::AutoScalingGroup").items()
    return group_id, group


def _idle_alarm(template: Template) -> dict[str, Any]:
    (alarm,) = [
        a for k, a in resources(template, "AWS::CloudWatch::Alarm").items() if "GpuIdle" in k
    ]
    return alarm


def test_the_group_reaches_zero_and_no_deploy_sets_its_capacity(template: Template) -> None:
    group_id, group = _group(template)
    props = group["Properties"]
    assert props["MinSize"] == {"Fn::If": ["GpuAlwaysOn", "1", "0"]}
    assert template["Conditions"]["GpuAlwaysOn"] == {"Fn::Equals": [{"Ref": "GpuIdleMinutes"}, "0"]}
    assert template["Parameters"]["GpuIdleMinutes"]["Default"] == 30
    # Without DesiredCapacity CloudFormation leaves the running capacity alone on update, so a
    # deploy does not wake a sleeping host; nor does the update policy set one.
    assert "DesiredCapacity" not in props
    assert set(group["UpdatePolicy"]) == {"AutoScalingInstanceRefresh"}
    assert "DesiredCapacity" not in str(group["UpdatePolicy"])
    # Nothing else in the stack sets the group's capacity, but the sleep policy (to 0).
    setters = [
        k
        for k, r in template["Resources"].items()
        if group_id in refs(r.get("Properties", {}))
        and r["Type"] in {"AWS::AutoScaling::ScheduledAction", "AWS::AutoScaling::ScalingPolicy"}
        and r["Properties"].get("AdjustmentType") == "ExactCapacity"
    ]
    assert len(setters) == 1


def test_a_warm_pool_keeps_one_stopped_host(template: Template) -> None:
    group_id, _ = _group(template)
    (pool,) = resources(template, "AWS::AutoScaling::WarmPool").values()
    props = pool["Properties"]
    assert props["AutoScalingGroupName"] == {"Ref": group_id}
    assert props["PoolState"] == "Stopped"
    assert props["MaxGroupPreparedCapacity"] == 1
    # Going to sleep stops the host back into the pool, its volume (and models) kept.
    assert props["InstanceReusePolicy"] == {"ReuseOnScaleIn": True}
    assert pool["Condition"] == "GpuSleepsWhenIdle"
    assert template["Conditions"]["GpuSleepsWhenIdle"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "GpuIdleMinutes"}, "0"]}]
    }


def test_every_launch_waits_for_the_host_to_say_it_is_ready(template: Template) -> None:
    """Launched into the warm pool, a host would be stopped in the middle of its user data;
    the launch hook holds it until host_ready.py (run by start.sh) completes it."""
    group_id, group = _group(template)
    (hook,) = group["Properties"]["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hook["LifecycleHookName"] == HostParameters("", "").lifecycle_hook_name
    assert hook["HeartbeatTimeout"] == {"Ref": "GpuHealthGraceSeconds"}
    assert hook["DefaultResult"] == "ABANDON"
    (launch,) = resources(template, "AWS::EC2::LaunchTemplate").values()
    options = launch["Properties"]["LaunchTemplateData"]["MetadataOptions"]
    assert options["InstanceMetadataTags"] == "enabled"  # where host_ready.py finds its group
    user_data = launch["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert f'LIFECYCLE_HOOK_NAME="{hook["LifecycleHookName"]}"' in user_data[0]
    # The host may complete its own group's hook, nothing else.
    (statement,) = [
        s for _, _, s in _statements(template) if "CompleteLifecycleAction" in str(s["Action"])
    ]
    assert statement["Action"] == "autoscaling:CompleteLifecycleAction"
    assert refs(statement["Resource"]) == {group_id}


def test_an_idle_alarm_sets_the_capacity_to_zero(template: Template) -> None:
    group_id, _ = _group(template)
    alarm = _idle_alarm(template)
    props = alarm["Properties"]
    assert alarm["Condition"] == "GpuSleepsWhenIdle"
    (action,) = props["AlarmActions"]
    (policy_id,) = refs(action)
    policy = template["Resources"][policy_id]
    assert policy["Condition"] == "GpuSleepsWhenIdle"
    assert policy["Properties"]["AutoScalingGroupName"] == {"Ref": group_id}
    assert policy["Properties"]["AdjustmentType"] == "ExactCapacity"
    assert policy["Properties"]["ScalingAdjustment"] == 0
    assert int(policy["Properties"]["Cooldown"]) == IDLE_SCALE_IN_COOLDOWN_SECONDS
    # GpuIdleMinutes consecutive one-minute data points; no data at all counts as idle.
    assert props["EvaluationPeriods"] == {"Ref": "GpuIdleMinutes"}
    assert props["DatapointsToAlarm"] == {"Ref": "GpuIdleMinutes"}
    assert props["TreatMissingData"] == "breaching"
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["Threshold"] == 1
    assert template["Parameters"]["GpuIdleMinutes"]["MaxValue"] * 60 <= 86400


def test_the_idle_alarm_counts_every_function_that_sends_inference(template: Template) -> None:
    props = _idle_alarm(template)["Properties"]
    queries = {q["Id"]: q for q in props["Metrics"]}
    services = {}
    for query in queries.values():
        stat = query.get("MetricStat")
        if stat and stat["Metric"]["MetricName"] == "ModelHostRequests":
            assert stat["Period"] == 60
            assert stat["Stat"] == "Sum"
            (dimension,) = stat["Metric"]["Dimensions"]
            assert dimension["Name"] == "service"
            services[dimension["Value"]] = stat["Metric"]["Namespace"]
    # Where the functions that call the model host emit it: their namespace and service name.
    callers = [
        name for name in MODEL_CLIENTS if "STRATUS_MODEL_HOST_ASG_NAME" in env(template, name)
    ]
    assert sorted(services) == sorted(callers) == sorted(MODEL_CLIENTS)
    for name in callers:
        variables = env(template, name)
        assert variables["POWERTOOLS_SERVICE_NAME"] == name
        assert services[name] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    desired = queries["desired"]["MetricStat"]
    assert desired["Metric"]["Namespace"] == "AWS/AutoScaling"
    assert desired["Metric"]["MetricName"] == "GroupDesiredCapacity"
    assert desired["Metric"]["Dimensions"][0]["Value"] == {"Ref": _group(template)[0]}
    (returned,) = [q for q in props["Metrics"] if q.get("ReturnData")]
    expression = returned["Expression"]
    ids = {q["Id"]: q for q in props["Metrics"]}
    nothing: dict[str, float | None] = {k: None for k in ids if k != returned["Id"]}
    # A host up and not one request from any function: idle.
    assert evaluate(expression, {**nothing, "desired": 1}) == 1
    assert evaluate(expression, {**nothing, "desired": 1, "chat": 0, "rag": 0}) == 1
    # One request from any of them: not idle.
    for query_id in ids:
        if query_id not in {"desired", returned["Id"]}:
            assert evaluate(expression, {**nothing, "desired": 1, query_id: 1}) == 0, query_id
    # Asleep already: not idle either, so the alarm rests in OK while the host sleeps, and a
    # wake is not undone by an alarm still in ALARM.
    assert evaluate(expression, {**nothing, "desired": 0}) == 0


def test_the_no_healthy_host_alarm_is_quiet_while_the_group_sleeps(template: Template) -> None:
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if "HealthyHostCount" in str(a["Properties"].get("Metrics", ""))
    ]
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True) and "Expression" in q]
    expression = returned["Expression"]
    names = {
        q["MetricStat"]["Metric"]["MetricName"]: q["Id"]
        for q in alarm["Metrics"]
        if "MetricStat" in q
    }
    healthy, desired = names["HealthyHostCount"], names["GroupDesiredCapacity"]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    fires = 1.0
    # At 0 on purpose: no host wanted, none healthy (or no data at all): quiet.
    assert evaluate(expression, {healthy: None, desired: 0}) < fires
    assert evaluate(expression, {healthy: 0, desired: 0}) < fires
    # A host wanted and none healthy (Ollama dead, or no host came up): fires.
    assert evaluate(expression, {healthy: 0, desired: 1}) == fires
    assert evaluate(expression, {healthy: None, desired: 1}) == fires
    assert evaluate(expression, {healthy: 1, desired: 1}) < fires
    # Longer than a wake from the warm pool takes.
    assert alarm["EvaluationPeriods"] >= 10


@pytest.mark.parametrize("name", MODEL_CLIENTS)
def test_the_functions_that_call_the_host_may_wake_this_group_only(
    template: Template, name: str
) -> None:
    group_id, _ = _group(template)
    assert env(template, name)["STRATUS_MODEL_HOST_ASG_NAME"] == {"Ref": group_id}
    role = _role_of(template, name)
    statements = [s for _, r, s in _statements(template) if r == role]
    (wake,) = [s for s in statements if "autoscaling:SetDesiredCapacity" in str(s["Action"])]
    assert wake["Action"] == "autoscaling:SetDesiredCapacity"
    assert refs(wake["Resource"]) == {group_id}
    assert ":autoScalingGroup:*:autoScalingGroupName/${Name}" in joined(wake["Resource"])
    # DescribeAutoScalingGroups has no resource-level permission in IAM: '*' is the only form.
    (describe,) = [s for s in statements if "autoscaling:Describe" in str(s["Action"])]
    assert describe["Action"] == "autoscaling:DescribeAutoScalingGroups"
    assert describe["Resource"] == "*"
    autoscaling = {
        a for s in statements for a in [s["Action"]] if str(a).startswith("autoscaling:")
    }
    assert autoscaling == {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:DescribeAutoScalingGroups",
    }


def test_auth_cannot_wake_the_host(template: Template) -> None:
    assert "STRATUS_MODEL_HOST_ASG_NAME" not in env(template, "auth")
    role = _role_of(template, "auth")
    assert not [s for _, r, s in _statements(template) if r == role and "autoscaling" in str(s)]


def test_the_evaluator_reads_metric_math_as_cloudwatch_does() -> None:
    assert evaluate("IF((a >= 1) AND (FILL(b, 0) < 1), 1, 0)", {"a": 1, "b": None}) == 1
    assert evaluate("IF((a >= 1) AND (FILL(b, 0) < 1), 1, 0)", {"a": 1, "b": 2}) == 0
    assert evaluate("FILL(a, 0) + FILL(b, 0)", {"a": None, "b": 3}) == 3
    with pytest.raises(ValueError, match="unexpected syntax"):
        evaluate("__import__('os')", {})
