"""Shared fixtures: real embedded Postgres with pgvector and moto's server, both on loopback.

Services start once per test session in a private temp directory, so parallel test runs and a
running local stack never share state.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.auth import TEST_SECRET, auth_client, auth_env, log_capture
from tests.support.services import (
    MotoServer,
    embedded_postgres,
    moto_server,
    patched_environ,
    server_data_dir,
)

# Auth fixtures, shared by every test that needs accounts (see tests/support/auth.py).
__all__ = ["auth_client", "auth_env", "log_capture"]

pytest_plugins = [
    "tests.support.emulator",
    "tests.support.chat",
    "tests.support.package",
    "tests.support.rag",
    "tests.support.unclosed",
]

# An address nothing listens on: tests that need a model host start the emulator explicitly.
UNREACHABLE_MODEL_HOST = "http://127.0.0.1:9"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last, whatever the order asked for: their session-wide Playwright
    driver keeps an event loop in the main thread, which async tests after it could not start.
    Every async test closes what it built on its loop (``_close_loop_resources``)."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
    for item in items:
        if not isinstance(item, pytest.Function) or not inspect.iscoroutinefunction(item.obj):
            continue  # a sync test has no loop of its own to clean up
        if item.get_closest_marker("anyio") is not None:
            item.fixturenames.append("_close_loop_resources")


@pytest.fixture
async def _close_loop_resources() -> AsyncIterator[None]:
    """A test that used a store directly (not through an app) built a Postgres pool or HTTP
    clients on its own event loop; close them with it, as an app's shutdown does, or every such
    test leaves connections open until Postgres runs out of them."""
    yield
    from stratus.web.plugin import close_resources

    await close_resources()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytestmark = pytest.mark.anyio``) run on asyncio, as the functions do."""
    return "asyncio"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    from stratus.migrations import apply_migrations

    with server_data_dir() as scratch, embedded_postgres(scratch / "pgdata") as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(scope="session")
def stack_env(
    postgres_url: str, moto: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The environment a deployed function would see, pointing at the session's services."""
    from stratus.ephemeral.table import create_table

    data_dir: Path = tmp_path_factory.mktemp("data")
    env = {
        "DATABASE_URL": postgres_url,
        "STRATUS_DATA_DIR": str(data_dir),
        "STRATUS_DYNAMODB_TABLE": "stratus-test",
        "OLLAMA_BASE_URL": UNREACHABLE_MODEL_HOST,
        "STRATUS_READINESS_TIMEOUT": "2",
        "POWERTOOLS_METRICS_NAMESPACE": "StratusTest",
        # Deployed functions always have a strong signing secret; auth refuses to start without.
        "WEBUI_SECRET_KEY": TEST_SECRET,
        **moto.env(),
    }
    with patched_environ(env):
        create_table()
        yield env


@pytest.fixture
def env(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Per-test overlay: tests may change variables; everything is restored afterwards."""
    with patched_environ({}):
        yield stack_env
