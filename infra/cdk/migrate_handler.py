"""Deploy-time migrations: a CloudFormation custom resource's handler (CDK provider framework).

Shipped inline as the migrate function's index.py, beside the deps and stratus layers. On
Create and Update it applies every pending migration (yoyo: locked, idempotent); a failure
fails the deploy, which rolls back. Delete leaves the database alone. The database URL comes
from the secret the functions read (``DATABASE_URL_SECRET_ARN``), made into a URL the way they
make it (``stratus.runtime_secrets``).
"""

import json
from typing import Any

PHYSICAL_ID = "stratus-migrations"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    from stratus.migrations import apply_migrations
    from stratus.runtime_secrets import database_url, reset_runtime_secrets
    from stratus.settings import database_settings, reset_settings

    # A warm container may run a later deploy: read the settings and the secret afresh.
    reset_settings()
    reset_runtime_secrets()
    applied = apply_migrations(database_url(database_settings()))
    print(json.dumps({"migrations_applied": applied}))
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Applied": len(applied)}}
