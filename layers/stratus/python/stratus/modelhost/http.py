"""One aiohttp session per event loop for every model upstream, and the errors it maps.

aiohttp was chosen for the streaming hot path by measurement: relaying a 32-token stream costs
about half the CPU of httpx. Timeouts: connect (``STRATUS_MODEL_CONNECT_TIMEOUT``), first byte
(``STRATUS_MODEL_FIRST_BYTE_TIMEOUT``: a cold GPU may load a model first) and idle between
bytes (``STRATUS_MODEL_READ_TIMEOUT``), the last two enforced by the readers in ``lines.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec

from stratus.errors import (
    BadRequestError,
    ModelHostUnavailableError,
    ModelNotFoundError,
    StratusError,
    UpstreamError,
)
from stratus.modelhost.upstreams import Upstream
from stratus.resources import PerLoop
from stratus.settings import ModelHostSettings, model_host_settings, web_settings

if TYPE_CHECKING:
    import aiohttp

_decode = msgspec.json.Decoder().decode
# Upstream error text shown to clients is cut here: it comes from our own upstream, but a
# misbehaving one must not fill our responses.
_MAX_DETAIL = 300
# STRATUS_UPSTREAM_MAX_RESPONSE_BYTES' default: no answer we buffer may be larger.
DEFAULT_MAX_BYTES = 32 << 20
# What a client is told to wait before trying a host that did not answer again.
UNAVAILABLE_RETRY_AFTER = 10


class UpstreamHTTP:
    def __init__(self, session: aiohttp.ClientSession, settings: ModelHostSettings) -> None:
        self.session = session
        self.settings = settings
        self._expose_urls = web_settings().expose_upstream_urls

    def unavailable(self, upstream: Upstream) -> ModelHostUnavailableError:
        where = upstream.base_url if self._expose_urls else upstream.variable
        return ModelHostUnavailableError(
            f"The model host is not answering (configured at {where}). "
            # Only what this version has: each feature joins this sentence when it lands.
            "Sign-in, accounts and saved chats still work; try again once it is reachable.",
            retry_after=UNAVAILABLE_RETRY_AFTER,
        )

    @asynccontextmanager
    async def open(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        first_byte_timeout: float | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send a request and yield the response once its headers arrived with a 2xx status.

        The connection is released when the block exits; leaving early closes it, which is what
        makes Ollama stop generating.
        """
        import aiohttp

        headers = upstream.headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        timeout = first_byte_timeout or self.settings.read_timeout
        try:
            async with asyncio.timeout(timeout):
                response = await self.session.request(
                    method,
                    upstream.base_url + path,
                    data=body,
                    headers=headers,
                    # Only configured upstreams are contacted; a redirect could point anywhere.
                    allow_redirects=False,
                )
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise self.unavailable(upstream) from None
        try:
            if response.status >= 400:
                raise await self._status_error(upstream, response)
            yield response
        finally:
            response.close()

    async def read(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> bytes:
        """The whole answer's bytes; more than ``max_bytes`` is an upstream error, read no
        further (a host must not fill our memory: ``STRATUS_UPSTREAM_MAX_RESPONSE_BYTES``)."""
        import aiohttp

        async with self.open(upstream, method, path, body=body) as response:
            try:
                async with asyncio.timeout(self.settings.read_timeout):
                    chunks: list[bytes] = []
                    size = 0
                    # read(n) returns what has arrived, up to n: read to the end or the cap.
                    while size <= max_bytes:
                        chunk = await response.content.read(max_bytes + 1 - size)
                        if not chunk:
                            break
                        chunks.append(chunk)
                        size += len(chunk)
                    raw = b"".join(chunks)
            except (aiohttp.ClientError, TimeoutError, OSError):
                raise self.unavailable(upstream) from None
        if len(raw) > max_bytes:
            raise UpstreamError(
                f"The model host's answer is larger than this gateway relays ({max_bytes} bytes)."
            )
        return raw

    async def json(
        self,
        upstream: Upstream,
        method: str,
        path: str,
        body: Any = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Any:
        payload = msgspec.json.encode(body) if body is not None else None
        raw = await self.read(upstream, method, path, payload, max_bytes=max_bytes)
        try:
            return _decode(raw)
        except (msgspec.DecodeError, RecursionError):
            # RecursionError: nested past what a decoder follows (a hostile or broken host).
            raise UpstreamError("The model host sent a response that is not JSON.") from None

    async def _status_error(
        self, upstream: Upstream, response: aiohttp.ClientResponse
    ) -> StratusError:
        detail = await self._error_detail(response)
        status = response.status
        if status == 404:
            return ModelNotFoundError(detail or "The model was not found on the model host.")
        if status in {502, 503, 504}:
            return ModelHostUnavailableError(
                "The model host is unavailable; try again shortly.",
                retry_after=UNAVAILABLE_RETRY_AFTER,
            )
        if status in {400, 422} and detail:
            # The upstream's own words about the request, e.g. "model does not support tools".
            return BadRequestError(f"The model host refused the request: {detail}")
        if status in {401, 403}:
            return UpstreamError(
                f"The model host refused our credentials ({status}); check {upstream.variable} "
                "and its API key."
            )
        return UpstreamError(f"The model host answered with an error ({status}).")

    @staticmethod
    async def _error_detail(response: aiohttp.ClientResponse) -> str:
        try:
            raw = await response.content.read(64 * 1024)
            payload = _decode(raw)
        except Exception:
            return ""
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):  # OpenAI's {"error": {"message": ...}}
            error = error.get("message")
        if not isinstance(error, str):
            return ""
        text = "".join(ch for ch in error if ch.isprintable())
        return text[:_MAX_DETAIL]

    async def aclose(self) -> None:
        await self.session.close()


async def _build() -> UpstreamHTTP:
    import aiohttp

    settings = model_host_settings()
    connector = aiohttp.TCPConnector(
        limit=0,
        keepalive_timeout=settings.idle_timeout or None,
        # Generations are long-lived; don't let one host's DNS answer go stale for long.
        ttl_dns_cache=60,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        # Read timeouts are enforced by our readers (first byte, then idle between bytes).
        timeout=aiohttp.ClientTimeout(
            total=None, connect=settings.connect_timeout, sock_connect=settings.connect_timeout
        ),
        read_bufsize=1 << 16,
        trust_env=False,
        auto_decompress=True,
        raise_for_status=False,
    )
    return UpstreamHTTP(session, settings)


_http: PerLoop[UpstreamHTTP] = PerLoop(_build)


async def get_upstream_http() -> UpstreamHTTP:
    return await _http.get()


async def close_upstream_http() -> None:
    client = _http.current()
    if client is not None:
        _http.forget()
        await client.aclose()
