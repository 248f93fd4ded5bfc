"""The GPU host's proxy, run for real in front of the model-host emulator (one per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.emulator.testing import EmulatorHandle
from tests.support.proxy import RunningProxy, running_proxy

# The alphabet and length start.sh enforces (see gpu-host/README.md).
TOKEN = "k" * 20 + "0123456789abcdefghij-_xyz"


@pytest.fixture(scope="module")
def proxy(emulator_server: EmulatorHandle) -> Iterator[RunningProxy]:
    upstream = f"{emulator_server.host}:{emulator_server.port}"
    with running_proxy(upstream=upstream, token=TOKEN) as running:
        yield running


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
