"""The GPU host: a g5/g6 instance in a group of one in the host subnets, booted with the user
data built from gpu-host/, reached through an internal load balancer; its scaling policy (off
by default) follows chat's own metrics; and the alarms."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import yaml

from infra.cdk.gpu import user_data
from infra.cdk.parameters import GPU_INSTANCE_TYPES
from infra.gpu_host.user_data import USER_DATA_LIMIT, HostParameters, build_user_data
from infra.packaging.build import REPO
from tests.infra.helpers import Template, env, joined, refs, resources

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stratus/OllamaApiKey-AbCdEf"


def _launch_data(template: Template) -> dict[str, Any]:
    (launch,) = resources(template, "AWS::EC2::LaunchTemplate").values()
    data: dict[str, Any] = launch["Properties"]["LaunchTemplateData"]
    return data


def _rendered_user_data(template: Template, values: dict[str, str]) -> str:
    """What CloudFormation's Fn::Sub makes of the user data, for given parameter values."""
    text, mapping = _launch_data(template)["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert set(mapping) == {"SecretArn", "Models"}
    assert refs(mapping["SecretArn"])
    assert refs(mapping["Models"]) == {"GpuPreloadModels"}
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text
    return str(text)


def test_user_data_is_gpu_host_files_with_the_stacks_values(template: Template) -> None:
    values = {"SecretArn": SECRET, "AWS::Region": "eu-west-1", "Models": "qwen2.5:7b llama3.2"}
    rendered = _rendered_user_data(template, values)
    # Exactly what infra.gpu_host builds for these values: the same files, the same host.env.
    expected = build_user_data(
        HostParameters(
            ollama_api_key_secret_arn=SECRET,
            aws_region="eu-west-1",
            ollama_preload_models="qwen2.5:7b llama3.2",
        )
    )
    assert rendered == expected
    config = yaml.safe_load(rendered)
    install = next(f for f in config["write_files"] if f["path"].endswith("/install.sh"))
    assert gzip.decompress(base64.b64decode(install["content"])).startswith(b"#!")
    assert config["runcmd"] == [["/opt/stratus-gpu-host/install.sh"]]


def test_user_data_fits_ec2s_limit_with_long_values(template: Template) -> None:
    longest = {
        "SecretArn": "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:" + "s" * 200,
        "AWS::Region": "ap-southeast-5",
        "Models": " ".join(["hf.co/some-org/some-model-GGUF:Q4_K_M"] * 12),
    }
    assert len(_rendered_user_data(template, longest).encode()) <= USER_DATA_LIMIT


def test_user_data_refuses_text_fn_sub_would_misread() -> None:
    parameters = HostParameters("ARN", "REGION")
    assert "${" not in user_data(parameters).replace("${SecretArn}", "").replace(
        "${AWS::Region}", ""
    ).replace("${Models}", "")


def test_models_parameter_only_takes_what_host_env_accepts(template: Template) -> None:
    pattern = template["Parameters"]["GpuPreloadModels"]["AllowedPattern"]
    assert pattern == r"^[A-Za-z0-9 _.:/@+=,-]*$"
    assert (
        template["Parameters"]["GpuPreloadModels"]["Default"]
        == HostParameters("", "").ollama_preload_models
    )


def test_a_g5_or_g6_instance_with_imdsv2_and_an_encrypted_volume(template: Template) -> None:
    data = _launch_data(template)
    assert data["InstanceType"] == {"Ref": "GpuInstanceType"}
    allowed = template["Parameters"]["GpuInstanceType"]["AllowedValues"]
    assert allowed == list(GPU_INSTANCE_TYPES)
    assert all(t.split(".")[0] in {"g5", "g6"} for t in allowed)
    assert template["Parameters"]["GpuInstanceType"]["Default"] in allowed
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    (volume,) = data["BlockDeviceMappings"]
    assert volume["Ebs"]["Encrypted"] is True
    assert data["ImageId"] == {"Ref": "GpuImageId"}
    assert "ubuntu/server/24.04" in template["Parameters"]["GpuImageId"]["Default"]
    assert "amd64" in template["Parameters"]["GpuImageId"]["Default"]  # g5/g6 are x86-64


def test_a_group_of_one_in_private_subnets_replaced_when_unhealthy(template: Template) -> None:
    (group,) = resources(template, "AWS::AutoScaling::AutoScalingGroup").values()
    props = group["Properties"]
    # At most one host; none while it sleeps (tests/infra/test_scale_to_zero.py).
    assert props["MinSize"] == {"Fn::If": ["GpuAlwaysOn", "1", "0"]}
    assert props["MaxSize"] == {"Ref": "GpuMaxInstances"}
    assert template["Parameters"]["GpuMaxInstances"]["Default"] == 1
    subnets = refs(props["VPCZoneIdentifier"])
    assert subnets
    assert all("hostSubnet" in s for s in subnets)
    subnet_resources = resources(template, "AWS::EC2::Subnet")
    assert all(subnet_resources[s]["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    assert props["HealthCheckType"] == "ELB"
    (target_group_id, target_group), *_ = resources(
        template, "AWS::ElasticLoadBalancingV2::TargetGroup"
    ).items()
    assert refs(props["TargetGroupARNs"]) == {target_group_id}
    tg = target_group["Properties"]
    assert tg["Port"] == HostParameters("", "").proxy_port == 8080
    # The proxy's health path asks Ollama: healthy means Ollama answers (matrix row 38).
    assert tg["HealthCheckProtocol"] == "HTTP"
    assert tg["HealthCheckPath"] == "/healthz"
    assert tg["Matcher"] == {"HttpCode": "200"}
    assert tg["HealthCheckTimeoutSeconds"] < tg["HealthCheckIntervalSeconds"]
    proxy = (REPO / "gpu-host" / "proxy" / "default.conf.template").read_text()
    assert "location = /healthz {" in proxy
    assert "proxy_pass http://stratus_ollama/api/version;" in proxy
    (balancer,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert balancer["Properties"]["Scheme"] == "internal"
    assert balancer["Properties"]["Type"] == "network"
    for name in ("chat", "rag", "rag-ingest"):
        url = joined(env(template, name)["OLLAMA_BASE_URL"])
        assert url.startswith("http://${GpuBalancer")
        assert url.endswith(".DNSName}:8080")


def test_scaling_follows_chats_metrics_and_is_off_by_default(template: Template) -> None:
    assert template["Parameters"]["GpuScaling"]["Default"] == "off"
    assert template["Conditions"]["GpuScalingEnabled"] == {
        "Fn::Equals": [{"Ref": "GpuScaling"}, "on"]
    }
    policies = {
        k: v
        for k, v in resources(template, "AWS::AutoScaling::ScalingPolicy").items()
        if v["Properties"]["PolicyType"] == "TargetTrackingScaling"
    }
    assert len(policies) == 2
    chat = env(template, "chat")
    metric_names = set()
    for policy in policies.values():
        assert policy["Condition"] == "GpuScalingEnabled"
        spec = policy["Properties"]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]
        metrics = [q["MetricStat"]["Metric"] for q in spec.get("Metrics", []) if "MetricStat" in q]
        metrics = metrics or [spec]
        for metric in metrics:
            metric_names.add(metric["MetricName"])
            # Where Powertools writes chat's metrics: its namespace, and the dimensions it adds
            # (the model, and the service from POWERTOOLS_SERVICE_NAME).
            assert metric["Namespace"] == chat["POWERTOOLS_METRICS_NAMESPACE"]
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dims == {"model": {"Ref": "GpuScalingModel"}, "service": "chat"}
            assert chat["POWERTOOLS_SERVICE_NAME"] == "chat"
    assert metric_names == {"TimeToFirstToken", "TokensPerSecond"}
    # The names chat really emits (functions/chat/generation/report.py).
    report = (REPO / "functions" / "chat" / "generation" / "report.py").read_text()
    for name in metric_names:
        assert f'name="{name}"' in report, name


def test_alarms_on_5xx_throttles_chat_p99_gpu_health_and_dead_letters(template: Template) -> None:
    # The idle alarm acts on the GPU group, not on people (tests/infra/test_scale_to_zero.py).
    alarms = [
        a for k, a in resources(template, "AWS::CloudWatch::Alarm").items() if "GpuIdle" not in k
    ]
    (topic,) = resources(template, "AWS::SNS::Topic")
    seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for alarm in alarms:
        props = alarm["Properties"]
        if "Metrics" in props:  # metric math: below
            continue
        assert refs(props["AlarmActions"]) == {topic}
        seen.setdefault((props["Namespace"], props["MetricName"]), []).append(props)
    (five_xx,) = seen[("AWS/ApiGateway", "5XXError")]
    assert five_xx["Statistic"] == "Average"
    assert 0 < five_xx["Threshold"] <= 0.05
    throttled = {next(iter(refs(p["Dimensions"]))) for p in seen[("AWS/Lambda", "Throttles")]}
    assert len(throttled) == 4
    (duration,) = seen[("AWS/Lambda", "Duration")]
    assert duration["ExtendedStatistic"] == "p99"
    assert next(iter(refs(duration["Dimensions"]))).startswith("Chat")
    assert seen[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    # The GPU host's health is metric math (tests/infra/test_scale_to_zero.py).
    (health,) = [
        a["Properties"]
        for a in alarms
        if "HealthyHostCount" in json.dumps(a["Properties"].get("Metrics", []))
    ]
    assert refs(health["AlarmActions"]) == {topic}
