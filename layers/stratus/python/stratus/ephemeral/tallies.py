"""Named counters ("tallies") inside one ephemeral item, each change a single DynamoDB call.

The sliding-window limiter keeps one tally per sub-window, named after the sub-window's start.
One unconditional UpdateItem adds to the current tally, removes tallies that have left the window
and returns every tally still there (``ReturnValues=ALL_NEW``), whether or not the item existed.
pynamodb's models only carry declared attributes, so these calls use the model's own table
connection (one botocore client per process) with raw attribute paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from stratus.ephemeral.store import call_store, error_code
from stratus.ephemeral.table import ephemeral_model
from stratus.settings import AwsSettings

PREFIX = "t"


def tally_name(suffix: int) -> str:
    return f"{PREFIX}{suffix}"


def tally_increment(name: str) -> Any:
    """The update action that adds one to tally ``name``, creating it at zero."""
    from pynamodb.expressions.operand import Path

    return Path(name).set((Path(name) | 0) + 1)


def tally_removal(name: str) -> Any:
    from pynamodb.expressions.operand import Path

    return Path(name).remove()


class TallyStore:
    def __init__(self, settings: AwsSettings | None = None) -> None:
        self._settings = settings

    @property
    def _model(self) -> Any:
        return ephemeral_model(self._settings)

    async def add(
        self, pk: str, sk: str, name: str, *, drop: Sequence[str] = (), expires_at: int
    ) -> dict[str, int]:
        """Add one to ``name`` and remove ``drop``; return every tally the item holds after.

        ``expires_at`` (epoch seconds) is for DynamoDB's TTL sweeper only, which runs late:
        readers judge tallies by their names, never by the item's expiry.
        """
        return dict(await call_store(self._add, pk, sk, name, tuple(drop), expires_at))

    def _add(
        self, pk: str, sk: str, name: str, drop: tuple[str, ...], expires_at: int
    ) -> dict[str, int]:
        model = self._model
        expiry = datetime.fromtimestamp(expires_at, UTC)
        actions = [tally_increment(name), model.expires_at.set(expiry)]
        actions += [tally_removal(old) for old in drop if old != name]
        response = model._get_connection().update_item(
            pk, range_key=sk, actions=actions, return_values="ALL_NEW"
        )
        return tallies_of(response.get("Attributes", {}))

    async def take(self, pk: str, sk: str, name: str) -> bool:
        """Take one back from ``name`` if it is still there and above zero."""
        return bool(await call_store(self._take, pk, sk, name))

    def _take(self, pk: str, sk: str, name: str) -> bool:
        from pynamodb.expressions.operand import Path

        # The condition also keeps a tally that already left the window from coming back as -1.
        return self._conditional(pk, sk, [Path(name).add(-1)], Path(name) > 0)

    async def drop(self, pk: str, sk: str, names: Sequence[str]) -> None:
        if names:
            await call_store(self._drop, pk, sk, tuple(names))

    def _drop(self, pk: str, sk: str, names: tuple[str, ...]) -> None:
        from pynamodb.expressions.operand import Path

        model = self._model
        # Only on an existing item: removing from a missing one would create an empty item.
        self._conditional(pk, sk, [Path(n).remove() for n in names], model.pk.exists())

    def _conditional(self, pk: str, sk: str, actions: list[Any], condition: Any) -> bool:
        from pynamodb.exceptions import UpdateError

        try:
            self._model._get_connection().update_item(
                pk, range_key=sk, actions=actions, condition=condition
            )
        except UpdateError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def delete(self, pk: str, sk: str) -> None:
        await call_store(lambda: self._model(pk, sk).delete())

    async def delete_partition(self, pk: str) -> int:
        """Delete every item under ``pk``; return how many there were."""
        return int(await call_store(self._delete_partition, pk))

    def _delete_partition(self, pk: str) -> int:
        model = self._model
        items = list(model.query(pk, consistent_read=True, attributes_to_get=["pk", "sk"]))
        with model.batch_write() as batch:
            for item in items:
                batch.delete(item)
        return len(items)


def tallies_of(attributes: dict[str, Any]) -> dict[str, int]:
    """The tallies among an item's raw DynamoDB attributes (other attributes are ignored)."""
    found: dict[str, int] = {}
    for name, value in attributes.items():
        if name.startswith(PREFIX) and name[len(PREFIX) :].isdigit() and "N" in value:
            found[name] = int(value["N"])
    return found
