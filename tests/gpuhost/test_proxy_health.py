"""The proxy's health path (matrix row 38), under Debian's real nginx with the rendered config.

GIVEN the proxy in front of the model-host emulator, WHEN the load balancer asks ``GET /healthz``
(without a token), THEN the answer is Ollama's own: 200 while the emulator answers, a 5xx once
it is stopped or hung, so a host whose Ollama died fails its health check and is replaced.
Everything else still needs the token.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from local.emulator import running_emulator
from local.emulator.testing import EmulatorHandle
from tests.gpuhost.conftest import TOKEN
from tests.support.proxy import RunningProxy, running_proxy

HEALTH = "/healthz"
# The target group's health check gives up after this long (infra/cdk/gpu.py).
BALANCER_TIMEOUT_SECONDS = 5


def test_health_is_200_while_ollama_answers_and_5xx_once_it_is_stopped() -> None:
    ollama = ExitStack()
    emulator = ollama.enter_context(running_emulator())
    try:
        upstream = f"{emulator.host}:{emulator.port}"
        with running_proxy(upstream=upstream, token=TOKEN) as proxy:
            response = httpx.get(proxy.base_url + HEALTH)
            assert response.status_code == 200, response.text
            # Ollama itself was asked, and without the token.
            assert emulator.stats.requests("GET /api/version") == 1
            last = emulator.stats.last_request
            assert last is not None
            assert not last.has_authorization

            ollama.close()  # Ollama dies; the proxy in front of it keeps running
            response = httpx.get(proxy.base_url + HEALTH)
            assert response.status_code == 502
            # Still no way in without the token.
            assert httpx.get(proxy.base_url + "/").status_code == 401
    finally:
        ollama.close()


@pytest.fixture
def hung_upstream() -> Iterator[str]:
    """A listener that accepts connections (the kernel's backlog) and never answers: Ollama
    hung, with its port still open."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        host, port = listener.getsockname()[:2]
        yield f"{host}:{port}"


def test_health_fails_within_the_balancers_timeout_when_ollama_hangs(hung_upstream: str) -> None:
    with running_proxy(upstream=hung_upstream, token=TOKEN) as proxy:
        started = time.monotonic()
        response = httpx.get(proxy.base_url + HEALTH, timeout=30)
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert elapsed < BALANCER_TIMEOUT_SECONDS


@pytest.fixture
def proxy_in_front(emulator: EmulatorHandle, proxy: RunningProxy) -> RunningProxy:
    return proxy


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/version"),
        ("POST", HEALTH),
        ("GET", HEALTH + "x"),
        ("GET", HEALTH + "/"),
        ("GET", "/x/.." + "/api/tags"),
        ("GET", HEALTH + "/../api/tags"),
    ],
)
def test_everything_but_the_health_path_still_needs_the_token(
    proxy_in_front: RunningProxy, emulator: EmulatorHandle, method: str, path: str
) -> None:
    response = httpx.request(method, proxy_in_front.base_url + path)
    assert response.status_code == 401
    assert emulator.stats.request_counts == {}


def test_the_health_path_serves_nothing_else_with_the_token(
    proxy_in_front: RunningProxy, emulator: EmulatorHandle, auth: dict[str, str]
) -> None:
    # With the token, a management route is still refused, and the health path answers the
    # same as without it.
    assert httpx.post(proxy_in_front.base_url + "/api/pull", headers=auth).status_code == 403
    assert httpx.get(proxy_in_front.base_url + HEALTH, headers=auth).status_code == 200
    assert emulator.stats.management_calls == 0
    assert emulator.stats.request_counts == {"GET /api/version": 1}
