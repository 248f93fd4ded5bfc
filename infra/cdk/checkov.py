"""The checkov findings this stack accepts, each with its reason, written into the template.

checkov reads ``Metadata.checkov.skip`` on a resource; this aspect adds it from the table below,
so every suppression is in one reviewed place, scoped to the resources it names, and carries
its justification into the template. tests/infra runs checkov and fails on anything else, and
runs it once more with every skip stripped to see each one fail where it was skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

# CDK's own deploy-time helpers: the migrations provider's dispatcher, the function that
# strips the VPC's default security group and the one that uploads the web client's files.
# They run only while CloudFormation deploys, invoked by CloudFormation, and call only AWS APIs.
CDK_HELPERS = (
    r"Stratus/(MigrationsProvider/framework-onEvent/Resource"
    r"|Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler"
    r"|Custom::CDKBucketDeployment\w+/Resource)"
)
# The two of them whose environment checkov reads as possibly secret (the default security
# group's handler has none).
CDK_HELPERS_WITH_ENVIRONMENT = (
    r"Stratus/(MigrationsProvider/framework-onEvent/Resource"
    r"|Custom::CDKBucketDeployment\w+/Resource)"
)
API_FUNCTIONS = r"Stratus/(Auth|Chat|Rag|Migrate)/Resource"
# The Lambda functions' roles: the ones with Lambda's VPC network-interface statement.
VPC_FUNCTION_ROLES = r"Stratus/(Auth|Chat|Rag|RagIngest|Migrate)Role/DefaultPolicy/Resource"


@dataclass(frozen=True)
class Skip:
    check: str
    path: str  # regular expression on the construct path
    why: str


SKIPS: tuple[Skip, ...] = (
    Skip(
        "CKV_AWS_111",
        VPC_FUNCTION_ROLES,
        "The only unconstrained writes are Lambda's network-interface management for a VPC "
        "function (ec2:CreateNetworkInterface...) and the X-Ray daemon's trace segments, which "
        "EC2 and X-Ray do not scope to resources; AWS's own AWSLambdaVPCAccessExecutionRole and "
        "AWSXRayDaemonWriteAccess grant the same on '*'.",
    ),
    Skip(
        "CKV_AWS_115",
        r"Stratus/(Auth|Rag)/Resource",
        "Synchronous API functions: API Gateway's stage and per-route throttles bound them; a "
        "reserved concurrency would cap sign-in or uploads below what the account allows.",
    ),
    Skip("CKV_AWS_115", CDK_HELPERS, "CDK deploy-time helper, invoked once per deploy."),
    Skip(
        "CKV_AWS_116",
        API_FUNCTIONS,
        "Invoked synchronously (API Gateway, CloudFormation's provider): a dead-letter queue "
        "only ever receives failed asynchronous events. rag-ingest, the one asynchronous "
        "function, has one.",
    ),
    Skip("CKV_AWS_116", CDK_HELPERS, "CDK deploy-time helper, invoked synchronously."),
    Skip(
        "CKV_AWS_117",
        CDK_HELPERS,
        "CDK deploy-time helper that calls only AWS APIs (Lambda, EC2); it reaches nothing in "
        "the VPC.",
    ),
    Skip(
        "CKV_AWS_173",
        CDK_HELPERS_WITH_ENVIRONMENT,
        "Its environment holds no secret (a function name, a CA bundle's path).",
    ),
    Skip(
        "CKV_AWS_118",
        r"Stratus/Database/Resource",
        "Enhanced monitoring costs per instance; CloudWatch's standard RDS metrics and the "
        "exported PostgreSQL log cover this database's size.",
    ),
    Skip(
        "CKV_AWS_157",
        r"Stratus/Database/Resource",
        "Multi-AZ is the DatabaseMultiAz parameter (off by default: it doubles the database's "
        "cost); automated backups and snapshots cover recovery.",
    ),
    Skip(
        "CKV_AWS_161",
        r"Stratus/Database/Resource",
        "Clients authenticate to RDS Proxy with the Secrets Manager credential (TLS required); "
        "the application has no IAM token support.",
    ),
    Skip(
        "CKV_AWS_119",
        r"Stratus/EphemeralTable/Resource",
        "Encrypted at rest with DynamoDB's own key. It holds counters and flags that expire "
        "within minutes; a customer-managed key would change nothing about who may read them "
        "through IAM.",
    ),
    Skip(
        "CKV_AWS_28",
        r"Stratus/EphemeralTable/Resource",
        "Short-lived counters and stop flags (TTL): nothing worth restoring.",
    ),
    Skip(
        "CKV_AWS_120",
        r"Stratus/Api/DeploymentStage\.live/Resource",
        "Every answer is per user and authenticated; caching would serve one user's data to "
        "another.",
    ),
    Skip(
        "CKV_AWS_59",
        r"Stratus/Api/.*/ANY/Resource",
        "The functions authenticate every request themselves (one guard, an access policy per "
        "route; public routes are health, docs, sign-up and sign-in). An API Gateway "
        "authorizer would duplicate that check and add a call per request.",
    ),
    Skip(
        "CKV_AWS_158",
        r"Stratus/\w+Logs/Resource",
        "Encrypted at rest by CloudWatch Logs. The functions never log passwords, tokens or keys "
        "(tests scan every log line); a customer-managed key would need the logs service in "
        "the key's policy for no change in who may read them.",
    ),
    Skip(
        "CKV_AWS_18",
        r"Stratus/Uploads/Resource",
        "Server access logs would need a second bucket; CloudTrail data events are the "
        "auditable record of object access where it is wanted.",
    ),
    Skip(
        "CKV_AWS_18",
        r"Stratus/WebClient/Resource",
        "The web client's public files (the page, scripts, styles), rebuilt from the repository "
        "on every deploy; CloudFront is its only reader.",
    ),
    Skip(
        "CKV_AWS_21",
        r"Stratus/WebClient/Resource",
        "Every file is rebuilt from the repository on each deploy; the repository's history "
        "is its version history.",
    ),
    Skip(
        "CKV_AWS_86",
        r"Stratus/WebDistribution/Resource",
        "CloudFront's standard logs need a bucket with ACLs enabled, which this stack's buckets "
        "refuse; every API call is in the API's access log, and the rest are the same public "
        "files for everyone.",
    ),
    Skip(
        "CKV_AWS_174",
        r"Stratus/WebDistribution/Resource",
        "TLSv1.2_2021 with WebDomainName and WebCertificateArn. On the cloudfront.net name "
        "CloudFront serves its own certificate with TLSv1 as the minimum, whatever the "
        "distribution asks.",
    ),
    Skip(
        "CKV_AWS_27",
        r"Stratus/IngestDeadLetters/Resource",
        "Encrypted with SQS-managed keys (SqsManagedSseEnabled), which this check does not "
        "recognise.",
    ),
    Skip(
        "CKV_AWS_192",
        r"Stratus/ApiFirewall",
        "This web ACL admits only requests carrying CloudFront's origin secret and blocks the "
        "rest; content inspection (AWS's managed rules, Log4j's among them) belongs on the "
        "distribution's own web ACL (WebAclArn), which every admitted request has passed.",
    ),
    Skip(
        "CKV_AWS_91",
        r"Stratus/GpuBalancer/Resource",
        "A TCP load balancer has no access logs (NLB logs only TLS listeners); the proxy "
        "behind it logs every request.",
    ),
)


def skips_for(path: str) -> list[Skip]:
    return [skip for skip in SKIPS if re.fullmatch(skip.path, path)]


@jsii.implements(IAspect)
class CheckovSkips:
    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        skips = skips_for(node.node.path)
        if skips:
            node.add_metadata(
                "checkov", {"skip": [{"id": skip.check, "comment": skip.why} for skip in skips]}
            )
