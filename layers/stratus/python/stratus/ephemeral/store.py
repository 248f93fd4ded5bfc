"""Entries in the ephemeral table: flags and locks with an expiry that readers check themselves."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from stratus.ephemeral.table import ephemeral_model
from stratus.errors import ServiceUnavailableError
from stratus.observability import get_logger
from stratus.settings import AwsSettings


@dataclass(frozen=True, slots=True)
class Entry:
    pk: str
    sk: str
    expires_at: int
    owner: str | None
    value: str | None


class EphemeralStore:
    """Async wrapper over the synchronous pynamodb model; every call runs in a worker thread.

    DynamoDB failures become ``ServiceUnavailableError`` so each caller chooses its own policy:
    the login limiter fails closed, the chat stop-poll carries on.
    """

    def __init__(self, settings: AwsSettings | None = None, clock: Any = time.time) -> None:
        self._settings = settings
        self._clock = clock

    @property
    def _model(self) -> Any:
        return ephemeral_model(self._settings)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(int(self._clock()), UTC)

    def _expiry(self, ttl_seconds: int) -> datetime:
        return datetime.fromtimestamp(int(self._clock()) + ttl_seconds, UTC)

    async def put(
        self,
        pk: str,
        sk: str,
        *,
        ttl_seconds: int,
        owner: str | None = None,
        value: str | None = None,
        only_if_absent: bool = False,
    ) -> bool:
        """Write an entry. With ``only_if_absent``, return False if a live entry already exists."""
        model = self._model
        now = self._now()
        item = model(pk, sk, expires_at=self._expiry(ttl_seconds), owner=owner, value=value)
        condition = None
        if only_if_absent:
            # An expired entry that TTL has not swept yet counts as absent.
            condition = model.pk.does_not_exist() | (model.expires_at <= now)
        return bool(await self._run(self._put_item, item, condition))

    @staticmethod
    def _put_item(item: Any, condition: Any) -> bool:
        from pynamodb.exceptions import PutError

        try:
            item.save(condition=condition)
        except PutError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def get(self, pk: str, sk: str) -> Entry | None:
        item = await self._run(self._get_item, pk, sk)
        if item is None or item.expires_at <= self._now():
            return None
        return _entry(item)

    def _get_item(self, pk: str, sk: str) -> Any:
        model = self._model
        try:
            return model.get(pk, sk, consistent_read=True)
        except model.DoesNotExist:
            return None

    async def delete(self, pk: str, sk: str) -> None:
        await self._run(lambda: self._model(pk, sk).delete())

    async def ping(self) -> None:
        await self._run(lambda: self._model.describe_table())

    async def _run(self, func: Any, *args: Any) -> Any:
        return await call_store(func, *args)


def error_code(exc: Any) -> str | None:
    """The DynamoDB error code behind a pynamodb error, or None.

    pynamodb's own ``cause_response_code`` raises ``AttributeError`` when the cause carries no
    response (a read timeout, say), which would turn a slow store into a 500.
    """
    response = getattr(getattr(exc, "cause", None), "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return code if isinstance(code, str) else None


async def call_store(func: Any, *args: Any) -> Any:
    """Run a blocking pynamodb call in a worker thread; its failures become one domain error.

    Throttling (``ProvisionedThroughputExceededException``) lands here too, after botocore's
    bounded retries, so every caller sees the same 503 with ``Retry-After``.
    """
    from pynamodb.exceptions import PynamoDBException

    try:
        return await anyio.to_thread.run_sync(functools.partial(func, *args))
    except PynamoDBException as exc:
        cause = getattr(exc, "cause", None)
        get_logger().warning(
            "shared state store call failed",
            extra={"error": type(cause or exc).__name__, "code": error_code(exc)},
        )
        raise ServiceUnavailableError(
            "Shared state store is unavailable; try again shortly.", retry_after=2
        ) from None


async def call_botocore(func: Any, *args: Any) -> Any:
    """``call_store`` for code that uses the table's botocore client directly (the chat
    registry's hot path): client and transport failures become ``ServiceUnavailableError``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return await anyio.to_thread.run_sync(functools.partial(func, *args))
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        get_logger().warning(
            "shared state store call failed", extra={"error": type(exc).__name__, "code": code}
        )
        raise ServiceUnavailableError(
            "Shared state store is unavailable; try again shortly.", retry_after=2
        ) from None


def _entry(item: Any) -> Entry:
    return Entry(
        pk=item.pk,
        sk=item.sk,
        expires_at=int(item.expires_at.timestamp()),
        owner=item.owner,
        value=item.value,
    )


@functools.cache
def get_ephemeral_store() -> EphemeralStore:
    return EphemeralStore()
