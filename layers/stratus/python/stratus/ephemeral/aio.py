"""The ephemeral table on the event loop: aiodynamo over aiohttp, for chat's hot path.

botocore is synchronous, so every call used to hop to a worker thread, and it spends about
2.5 ms of CPU per call building, signing and parsing a request (measured: tests/benchmarks,
``bench_hotpath``). aiodynamo signs and sends the same JSON payloads from the event loop over
the aiohttp session the process already has a driver for, at a fraction of that CPU. The
registry keeps its fixed expressions: they go out as they are (``send_request``).

Configuration is botocore's, read from the same settings: the region, the endpoint override
(``AWS_ENDPOINT_URL_DYNAMODB``, moto locally) and credentials from the standard chain
(environment variables first: what Lambda provides). Timeouts are the table's (2 s), retries
bounded per call. DynamoDB and transport failures become ``ServiceUnavailableError``; a failed
condition becomes ``ConditionFailed`` for the caller to decide.

Built at init without connecting; each event loop gets its own aiohttp session on first use.
``reset`` (after a SnapStart restore, or at shutdown) closes the sessions and reads the
credentials afresh.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiodynamo.models import RetryConfig, RetryTimeout

from stratus.errors import ServiceUnavailableError
from stratus.observability import get_logger
from stratus.observability.tracing import span
from stratus.settings import AwsSettings, aws_settings

if TYPE_CHECKING:
    import aiohttp
    from aiodynamo.client import Client

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 2.0


@dataclass(frozen=True)
class Attempts(RetryConfig):
    """A bounded number of tries: one, then one more after each pause.

    aiodynamo's own policies retry for up to a minute; a request waiting on shared state must
    give up in seconds. Ends with the last failure itself (``RetryTimeout`` is how aiodynamo
    learns the tries are over).
    """

    pauses: tuple[float, ...] = ()

    def delays(self) -> Iterable[float]:
        return self.pauses

    async def attempts(self) -> AsyncIterator[None]:
        yield
        for pause in self.pauses:
            await asyncio.sleep(pause)
            yield
        raise RetryTimeout()


ONCE = Attempts(pauses=())
# As botocore's standard mode with max_retry_attempts=2: three tries, short pauses.
BOUNDED = Attempts(pauses=(0.05, 0.2))


# Every table built, so that shutdown closes their sessions whoever built them.
_tables: weakref.WeakSet[AsyncTable] = weakref.WeakSet()


async def close_tables() -> None:
    """Close the running loop's sessions of every table (the app's shutdown)."""
    for table in list(_tables):
        await table.close()


class ConditionFailed(Exception):
    """The request's ``ConditionExpression`` did not hold."""


class ValidationFailed(Exception):
    """DynamoDB refused the request as invalid (e.g. a document path into a missing map)."""


class AsyncTable:
    """Raw DynamoDB calls on the ephemeral table from the event loop."""

    def __init__(self, settings: AwsSettings | None = None) -> None:
        _tables.add(self)
        self._settings = settings
        self._credentials: Any = None
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def settings(self) -> AwsSettings:
        return self._settings or aws_settings()

    @property
    def name(self) -> str:
        return self.settings.dynamodb_table

    def prepare(self) -> None:
        """Import the client and resolve who calls (init: no connection)."""
        import aiodynamo.client
        import aiodynamo.http.aiohttp  # noqa: F401  # imported at init, not by the first call

        self._credentials_now()

    def _credentials_now(self) -> Any:
        if self._credentials is None:
            from aiodynamo.credentials import Credentials

            self._credentials = Credentials.auto()
        return self._credentials

    def _client(self, attempts: Attempts) -> Client:
        loop = asyncio.get_running_loop()
        clients = self._clients.setdefault(loop, {})
        client = clients.get(attempts)
        if client is None:
            import aiohttp
            from aiodynamo.client import Client
            from aiodynamo.http.aiohttp import AIOHTTP
            from yarl import URL

            session = self._sessions.get(loop)
            if session is None or session.closed:
                session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(
                        sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT
                    ),
                    # DynamoDB answers JSON only; nothing here needs aiohttp's cookie jar.
                    cookie_jar=aiohttp.DummyCookieJar(),
                )
                self._sessions[loop] = session
                clients.clear()
            settings = self.settings
            endpoint = settings.dynamodb_endpoint
            client = Client(
                AIOHTTP(session),
                self._credentials_now(),
                settings.region,
                URL(endpoint) if endpoint else None,
                throttle_config=attempts,
            )
            clients[attempts] = client
        return client

    async def call(
        self, action: str, payload: Mapping[str, Any], *, attempts: Attempts = BOUNDED
    ) -> dict[str, Any]:
        """One DynamoDB request, ``payload`` as DynamoDB's JSON API takes it."""
        import aiohttp
        from aiodynamo.errors import AIODynamoError, ConditionalCheckFailed, ValidationException

        try:
            with span(f"dynamodb.{action}"):
                return await self._client(attempts).send_request(action=action, payload=payload)
        except ConditionalCheckFailed:
            raise ConditionFailed from None
        except ValidationException:
            raise ValidationFailed from None
        except (TimeoutError, OSError, AIODynamoError, RetryTimeout, aiohttp.ClientError) as exc:
            get_logger().warning(
                "shared state store call failed",
                extra={"error": type(exc).__name__, "code": action},
            )
            raise ServiceUnavailableError(
                "Shared state store is unavailable; try again shortly.", retry_after=2
            ) from None

    async def close(self) -> None:
        """Close the running loop's session (shutdown); the next call opens a new one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        session: aiohttp.ClientSession | None = self._sessions.pop(loop, None)
        self._clients.pop(loop, None)
        if session is not None and not session.closed:
            await session.close()

    async def reset(self) -> None:
        """After a SnapStart restore: no connection from the snapshot, credentials read anew."""
        await self.close()
        self._credentials = None
