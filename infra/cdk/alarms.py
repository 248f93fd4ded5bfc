"""Alarms, sent to one SNS topic: the API's 5xx rate, throttled functions, chat's p99 duration,
the GPU host's health and ingestion's dead letters."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk import profiles
from infra.cdk.data import Data
from infra.cdk.gpu import GpuHost
from infra.cdk.parameters import Parameters

# 5xx answers over all answers, per minute: 5% for 3 of 5 minutes.
API_5XX_RATE = 0.05
# A chat generation near the end of the 15-minute limit is cut short; p99 above 80% of it.
CHAT_P99_MS = profiles.CHAT.timeout_seconds * 1000 * 0.8
# 1 for a minute in which the group wanted a host (desired capacity at least 1) and no host was
# healthy. A group at 0 on purpose (asleep) is not a fault. 10 minutes: more than a wake from
# the warm pool takes (instance start, model load, registration), less than a cold install.
GPU_UNHEALTHY_EXPRESSION = "IF((desired >= 1) AND (FILL(healthy, 0) < 1), 1, 0)"
GPU_UNHEALTHY_MINUTES = 10


def build_alarms(
    scope: Construct,
    params: Parameters,
    api: apigw.RestApi,
    functions: dict[str, lambda_.Function],
    gpu: GpuHost,
    data: Data,
) -> sns.Topic:
    topic = sns.Topic(scope, "Alarms", display_name="Stratus alarms", master_key=data.key)
    has_email = cdk.CfnCondition(
        scope,
        "AlarmEmailSet",
        expression=cdk.Fn.condition_not(
            cdk.Fn.condition_equals(params.alarm_email.value_as_string, "")
        ),
    )
    subscription = sns.CfnSubscription(
        scope,
        "AlarmEmailSubscription",
        topic_arn=topic.topic_arn,
        protocol="email",
        endpoint=params.alarm_email.value_as_string,
    )
    subscription.cfn_options.condition = has_email
    action = actions.SnsAction(topic)

    def alarm(name: str, alarm: cloudwatch.Alarm) -> None:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)

    period = cdk.Duration.minutes(1)
    alarm(
        "Api5xx",
        cloudwatch.Alarm(
            scope,
            "Api5xxRate",
            alarm_description="More than 5% of the API's answers are 5xx",
            metric=api.metric_server_error(period=period, statistic="Average"),
            threshold=API_5XX_RATE,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    )
    for name, function in functions.items():
        alarm(
            f"{name}Throttles",
            cloudwatch.Alarm(
                scope,
                f"{_id(name)}Throttles",
                alarm_description=f"Lambda throttled {name} (concurrency exhausted)",
                metric=function.metric_throttles(period=period, statistic="Sum"),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        )
    alarm(
        "ChatP99",
        cloudwatch.Alarm(
            scope,
            "ChatDurationP99",
            alarm_description="chat's p99 duration is within 20% of its 15-minute limit",
            metric=functions["chat"].metric_duration(
                period=cdk.Duration.minutes(5), statistic="p99"
            ),
            threshold=CHAT_P99_MS,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    )
    alarm(
        "GpuHealth",
        cloudwatch.Alarm(
            scope,
            "GpuHostUnhealthy",
            alarm_description=(
                "The GPU group wants a host and none has passed the load balancer's health "
                f"check for {GPU_UNHEALTHY_MINUTES} minutes (asleep on purpose: no alarm)"
            ),
            metric=cloudwatch.MathExpression(
                expression=GPU_UNHEALTHY_EXPRESSION,
                using_metrics={
                    "healthy": gpu.target_group.metrics.healthy_host_count(
                        period=period, statistic="Minimum"
                    ),
                    "desired": cloudwatch.Metric(
                        namespace="AWS/AutoScaling",
                        metric_name="GroupDesiredCapacity",
                        dimensions_map={"AutoScalingGroupName": gpu.group_name},
                        period=period,
                        statistic="Minimum",
                    ),
                },
                label="a host wanted and none healthy",
                period=period,
            ),
            threshold=1,
            evaluation_periods=GPU_UNHEALTHY_MINUTES,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # FILL makes a missing health count 0; without the group's own metric, no verdict.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    )
    dlq: sqs.Queue = data.ingest_dlq
    alarm(
        "IngestDeadLetters",
        cloudwatch.Alarm(
            scope,
            "IngestDeadLettersAlarm",
            alarm_description="Uploaded files that ingestion gave up on (see the queue)",
            metric=dlq.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5)
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    )
    return topic


def _id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
