"""Deploy-time migrations: the custom resource, and its handler run for real against an empty
database on the session's embedded Postgres, with the credentials from moto's Secrets Manager."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from infra.cdk import migrate_handler
from stratus.migrations import VERSIONS_DIR
from stratus.runtime_secrets import url_from_secret
from stratus.settings import DatabaseSettings
from tests.infra.helpers import Template, own_layers, refs, resources
from tests.support.services import MotoServer


def test_migrations_run_as_a_custom_resource_on_each_new_stratus_layer(
    template: Template, dist: Path
) -> None:
    (resource,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::StratusMigrations"
    ]
    props = resource["Properties"]
    assert (
        json.loads((dist / "manifest.json").read_text())["artifacts"]["layer:stratus"]["sha256"]
        == props["StratusLayer"]
    )
    # It waits for the database and its proxy.
    assert any(d.startswith("DatabaseProxy") for d in resource["DependsOn"])
    (migrate,) = [
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Code", {}).get("ZipFile")
        == Path(migrate_handler.__file__).read_text()
    ]
    assert migrate["Handler"] == "index.handler"
    assert refs(migrate["Layers"]) == set(own_layers(template))
    assert migrate["ReservedConcurrentExecutions"] == 1


def _secrets(moto: MotoServer) -> Any:
    return moto.client("secretsmanager")


@pytest.fixture
def empty_database(postgres_url: str) -> dict[str, str]:
    parts = urlsplit(postgres_url)
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    host = parse_qs(parts.query).get("host", [parts.hostname or ""])[0]
    return {
        "host": host,
        "port": str(parts.port or 5432),
        "name": name,
        "user": parts.username or "",
        "password": parts.password or "",
        "url": postgres_url,
    }


def test_the_handler_applies_every_migration_once(
    empty_database: dict[str, str], moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _secrets(moto).create_secret(
        Name=f"db-{uuid.uuid4().hex}",
        SecretString=json.dumps(
            {"username": empty_database["user"], "password": empty_database["password"]}
        ),
    )
    for name, value in {
        **moto.env(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint,
        "DATABASE_URL_SECRET_ARN": secret["ARN"],
        "DATABASE_HOST": empty_database["host"],
        "DATABASE_PORT": empty_database["port"],
        "DATABASE_NAME": empty_database["name"],
    }.items():
        monkeypatch.setenv(name, value)
    # As in Lambda: the migrate function's environment names the secret, not a URL.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    migrations = sorted(p.stem for p in VERSIONS_DIR.glob("*.sql"))
    created = migrate_handler.handler({"RequestType": "Create"}, None)
    assert created == {
        "PhysicalResourceId": migrate_handler.PHYSICAL_ID,
        "Data": {"Applied": len(migrations)},
    }
    # pgvector is there, as the first migration asks.
    database_url = url_from_secret(
        json.dumps({"username": empty_database["user"], "password": empty_database["password"]}),
        DatabaseSettings.from_env(
            {
                "DATABASE_URL_SECRET_ARN": secret["ARN"],
                "DATABASE_HOST": empty_database["host"],
                "DATABASE_PORT": empty_database["port"],
                "DATABASE_NAME": empty_database["name"],
            }
        ),
    )
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
    assert row is not None
    # An update (a new stratus layer) applies nothing already applied; delete leaves it alone.
    updated = migrate_handler.handler(
        {"RequestType": "Update", "PhysicalResourceId": migrate_handler.PHYSICAL_ID}, None
    )
    assert updated["Data"] == {"Applied": 0}
    deleted = migrate_handler.handler(
        {"RequestType": "Delete", "PhysicalResourceId": migrate_handler.PHYSICAL_ID}, None
    )
    assert deleted == {"PhysicalResourceId": migrate_handler.PHYSICAL_ID}
