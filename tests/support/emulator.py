"""Pytest fixtures for tests that talk to the model-host emulator (a pytest plugin).

``emulator`` serves one emulator per test module and resets it before each test that asks for
it, so tests never see each other's faults or stats.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.emulator import running_emulator
from local.emulator.testing import EmulatorHandle


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[EmulatorHandle]:
    with running_emulator() as handle:
        yield handle


@pytest.fixture
def emulator(emulator_server: EmulatorHandle) -> EmulatorHandle:
    emulator_server.reset()
    return emulator_server
