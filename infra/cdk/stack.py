"""The whole deployment as one CloudFormation stack."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.cdk import parameters, profiles
from infra.cdk.alarms import build_alarms
from infra.cdk.api import build_api
from infra.cdk.api_guard import build_api_guard
from infra.cdk.artifacts import Artifacts
from infra.cdk.data import build_data
from infra.cdk.functions import build_functions, build_migrations, function_security_groups
from infra.cdk.gpu import build_gpu_host
from infra.cdk.network import build_network
from infra.cdk.web import build_web
from infra.cdk.web_build import WebBuild


class StratusStack(cdk.Stack):
    def __init__(
        self, scope: Construct, stack_id: str, artifacts: Artifacts, web_build: WebBuild
    ) -> None:
        super().__init__(
            scope,
            stack_id,
            description=f"Stratus: serverless LLM chat backend (release {artifacts.release})",
        )
        params = parameters.declare(self)
        network = build_network(self, params)
        data = build_data(self, params, network)
        groups = function_security_groups(self, network, data)
        gpu = build_gpu_host(self, params, network, data, groups)
        functions = build_functions(self, params, network, data, artifacts, groups, gpu)
        build_migrations(self, network, data, artifacts, groups["migrate"], functions.layers)
        self._wire_ingest(data, functions.aliases["rag-ingest"])
        self._narrow_endpoints(network.vpc, data)
        api = build_api(self, params, functions.aliases)
        build_alarms(self, params, api, functions.functions, gpu, data)
        # The web client and the API on one origin (CloudFront), so the page needs no CORS.
        web = build_web(self, params, api, web_build, data.cdn_origin_secret, data.bucket_name)
        # The page sends large files straight to the uploads bucket (presigned POST).
        uploads = data.bucket.node.default_child
        assert isinstance(uploads, cdk.CfnResource)
        uploads.add_property_override(
            "CorsConfiguration.CorsRules", [profiles.uploads_cors_rule(web.origins)]
        )
        build_api_guard(self, params, api, data.cdn_origin_secret)

        cdk.CfnOutput(self, "WebUrl", value=web.url, description="The web client (and the API)")
        cdk.CfnOutput(self, "WebBucket", value=web.bucket.bucket_name)
        cdk.CfnOutput(self, "WebBuild", value=web_build.build_id, description="/assets/<build>/")
        cdk.CfnOutput(self, "ApiUrl", value=api.url, description="The API's base URL")
        cdk.CfnOutput(self, "UploadsBucket", value=data.bucket.bucket_name)
        cdk.CfnOutput(self, "ModelHostUrl", value=gpu.url, description="Inside the VPC only")
        cdk.CfnOutput(self, "DatabaseEndpoint", value=data.database.db_instance_endpoint_address)
        cdk.CfnOutput(self, "IngestDeadLetterQueue", value=data.ingest_dlq.queue_url)
        cdk.CfnOutput(self, "Release", value=artifacts.release)

    def _wire_ingest(self, data: object, ingest: lambda_.Alias) -> None:
        """S3 tells the ingest function (its live alias) about every new object under files/.

        Declared on the bucket itself, which S3 validates against the permission below; the
        permission names the bucket by its derived name, so there is no circular dependency
        and no deploy-time helper function."""
        from infra.cdk.data import Data, bucket_arn

        assert isinstance(data, Data)
        permission = lambda_.CfnPermission(
            self,
            "UploadsInvokeIngest",
            action="lambda:InvokeFunction",
            function_name=ingest.function_arn,
            principal="s3.amazonaws.com",
            source_account=cdk.Aws.ACCOUNT_ID,
            source_arn=bucket_arn(data),
        )
        bucket = data.bucket.node.default_child
        assert isinstance(bucket, cdk.CfnResource)
        bucket.add_property_override(
            "NotificationConfiguration.LambdaConfigurations",
            [
                {
                    "Event": "s3:ObjectCreated:*",
                    "Function": ingest.function_arn,
                    "Filter": {
                        "S3Key": {
                            "Rules": [{"Name": "prefix", "Value": profiles.RAG_UPLOAD_PREFIX}]
                        }
                    },
                }
            ],
        )
        bucket.node.add_dependency(permission)  # S3 checks the destination on create

    def _narrow_endpoints(self, vpc: ec2.Vpc, data: object) -> None:
        """The gateway endpoints reach only this stack's table and bucket."""
        from infra.cdk.data import Data

        assert isinstance(data, Data)
        for child in vpc.node.children:
            if not isinstance(child, ec2.GatewayVpcEndpoint):
                continue
            name = child.node.id
            if name == "DynamoDbEndpoint":
                child.add_to_policy(
                    iam.PolicyStatement(
                        principals=[iam.AnyPrincipal()],
                        actions=["dynamodb:*"],
                        resources=[data.table.table_arn],
                    )
                )
            elif name == "S3Endpoint":
                child.add_to_policy(
                    iam.PolicyStatement(
                        principals=[iam.AnyPrincipal()],
                        actions=["s3:*"],
                        resources=[data.bucket.bucket_arn, data.bucket.arn_for_objects("*")],
                    )
                )
