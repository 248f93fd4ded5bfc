"""Deploy-time migrations: a CloudFormation custom resource's handler (CDK provider framework).

Shipped inline as the migrate function's index.py, beside the deps and stratus layers. On
Create and Update it applies every pending migration (yoyo: locked, idempotent); a failure
fails the deploy, which rolls back. Delete leaves the database alone.
"""

import json
import os
from typing import Any
from urllib.parse import quote

import boto3

PHYSICAL_ID = "stratus-migrations"


def database_url(secret: dict[str, Any], host: str, port: str, name: str) -> str:
    user = quote(str(secret["username"]), safe="")
    password = quote(str(secret["password"]), safe="")
    if host.startswith("/"):  # a Unix socket directory (local tests)
        return f"postgresql://{user}:{password}@/{name}?host={quote(host, safe='')}"
    return f"postgresql://{user}:{password}@{host}:{port}/{name}?sslmode=require"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    from stratus.migrations import apply_migrations

    client = boto3.client("secretsmanager")
    value = client.get_secret_value(SecretId=os.environ["DATABASE_SECRET_ARN"])
    url = database_url(
        json.loads(value["SecretString"]),
        os.environ["DATABASE_HOST"],
        os.environ.get("DATABASE_PORT", "5432"),
        os.environ["DATABASE_NAME"],
    )
    applied = apply_migrations(url)
    print(json.dumps({"migrations_applied": applied}))
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Applied": len(applied)}}
