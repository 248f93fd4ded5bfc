"""GpuScalingModel's default is what chat really emits as the metrics' ``model`` dimension.

GIVEN a model host serving the stack's default model (``llama3.2``, which Ollama lists as
``llama3.2:latest``), WHEN clients name it either way, THEN chat's metrics records (EMF on a
separate app process's standard output, where CloudWatch reads them) carry one ``model``
dimension, the catalog's id, and it is the template's GpuScalingModel default: the scaling
policies watch the series that exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.gpu_host.user_data import HostParameters
from local.emulator import EmulatorConfig, running_emulator
from tests.infra.helpers import Template
from tests.support.app_process import AppProcess, app_process
from tests.support.chat import ChatStack, chat_body, serve_chat_stack

# The package and the template are built first when this runs alone (about two minutes).
pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]

# The stack's default chat model, as the GPU host preloads it (GpuPreloadModels).
DEFAULT_MODEL = HostParameters("", "").ollama_preload_models.split()[0]


@pytest.fixture
async def default_model_stack(auth_env: dict[str, str]) -> AsyncIterator[ChatStack]:
    config = EmulatorConfig(chat_models=(DEFAULT_MODEL,), thinking_models=())
    with running_emulator(config) as emulator:
        async with serve_chat_stack(emulator) as stack:
            yield stack


def _emf(process: AppProcess, count: int, metric: str) -> list[dict[str, Any]]:
    """The EMF records with ``metric``, once ``count`` are in the log (a generation's record is
    written after its client has the whole answer) or after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        records = []
        for line in process.log.read_text().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "_aws" in item and metric in item:
                records.append(item)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


async def test_the_default_scaling_model_is_the_dimension_chat_emits(
    template: Template, default_model_stack: ChatStack, tmp_path: Path
) -> None:
    default = template["Parameters"]["GpuScalingModel"]["Default"]
    user = default_model_stack.user
    with app_process(tmp_path) as process:
        async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
            for name in (DEFAULT_MODEL, f"{DEFAULT_MODEL}:latest"):
                for stream in (True, False):
                    body = {**chat_body("one two three", stream=stream), "model": name}
                    response = await http.post(
                        "/v1/chat/completions", json=body, headers=user.headers
                    )
                    assert response.status_code == 200, response.text
        completions = _emf(process, 4, "Completions")
    assert len(completions) == 4
    assert {r["model"] for r in completions} == {default}
    assert default == "llama3.2:latest"
    timed = [r for r in completions if "TimeToFirstToken" in r]
    assert timed
    assert all(r["model"] == default for r in timed)
