"""The pynamodb model for the ephemeral table, built from settings at init (``prepare_table``).

The class is made at run time because pynamodb reads its table name and endpoint from ``Meta``,
and settings must not be read at import.
"""

from __future__ import annotations

import functools
from typing import Any

from stratus.ephemeral.clients import build_client, reset_clients
from stratus.ephemeral.meta import table_meta
from stratus.settings import AwsSettings, aws_settings


def ephemeral_model(settings: AwsSettings | None = None) -> Any:
    return _model_for(settings or aws_settings())


@functools.cache
def _model_for(resolved: AwsSettings) -> Any:
    """One model class per distinct settings value; pynamodb keeps one connection per class."""
    from pynamodb.attributes import TTLAttribute, UnicodeAttribute
    from pynamodb.models import Model

    class EphemeralItem(Model):
        Meta = table_meta(resolved)  # type: ignore[assignment]  # built per settings

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        # Stored as epoch seconds, the form DynamoDB's TTL needs; create_table() enables TTL on it.
        # Readers still compare it with the clock, because the TTL sweeper runs late.
        expires_at = TTLAttribute()
        owner = UnicodeAttribute(null=True)
        value = UnicodeAttribute(null=True)
        # Tallies (stratus.ephemeral.tallies) are further attributes, named at run time.

    return EphemeralItem


def create_table(settings: AwsSettings | None = None) -> None:
    """Create the table (TTL on ``expires_at``) if missing. Used by the local stack and tests."""
    model = ephemeral_model(settings)
    if not model.exists():
        model.create_table(wait=True)


async def prepare_table() -> None:
    """Build the table's model and its botocore client (Lambda's init); no connection yet."""
    build_client(ephemeral_model())


async def reset_table() -> None:
    reset_clients()
