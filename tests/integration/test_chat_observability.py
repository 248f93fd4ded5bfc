"""Observability of generations: one structured log line and one EMF metrics record each.

Read from where CloudWatch reads them: the standard output of a separate app process (the
composed app under uvicorn, as ``app_process`` runs it), line by line. Powertools writes the
log line as JSON and the metrics as CloudWatch Embedded Metric Format JSON, both to stdout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.app_process import AppProcess, app_process
from tests.support.auth import Account
from tests.support.chat import ChatStack, chat_body, sse_events

pytestmark = pytest.mark.anyio

# Words that occur in no log field name or value: if they show up, message text leaked.
QUESTION = "zebra whispers cobalt riddles"
SECRET_WORDS = ("zebra", "whispers", "cobalt", "riddles")


@pytest.fixture
def process(chat_stack: ChatStack, tmp_path: Path) -> Iterator[AppProcess]:
    """A second app process on the same Postgres, DynamoDB and emulator as ``chat_stack``."""
    with app_process(tmp_path, {"STRATUS_RATE_LIMIT_RPM": "3"}) as other:
        yield other


def records(process: AppProcess) -> list[dict[str, Any]]:
    found = []
    for line in process.log.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


def generation_lines(process: AppProcess) -> list[dict[str, Any]]:
    return [r for r in records(process) if r.get("message") == "generation"]


def emf_records(process: AppProcess) -> list[dict[str, Any]]:
    return [r for r in records(process) if "_aws" in r]


def wait_for_lines(process: AppProcess, count: int, kind: str = "generation") -> None:
    """Written after the response ends: wait until the process has flushed them."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = generation_lines(process) if kind == "generation" else emf_records(process)
        if len(lines) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} {kind} records in {process.log}")


async def post(process: AppProcess, account: Account, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=process.base_url, timeout=30) as http:
        return await http.post("/v1/chat/completions", json=body, headers=account.headers)


def metric_names(record: dict[str, Any]) -> set[str]:
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    return {metric["Name"] for metric in directive["Metrics"]}


async def test_one_generation_line_with_its_facts_and_one_metrics_record(
    chat_stack: ChatStack, process: AppProcess
):
    # The first token comes 0.2 s after the request: TTFT must include that wait.
    chat_stack.emulator.set_faults(token_delay=0.2)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    response = await post(process, user, chat_body(QUESTION, chat_id=chat_id, stream=True))
    assert response.status_code == 200
    assert sse_events(response.text)[-1] == "[DONE]"
    wait_for_lines(process, 1)
    (line,) = generation_lines(process)
    assert line["task_id"] == response.headers["x-stratus-task-id"]
    assert line["chat_id"] == chat_id
    # The catalog's id for the model the request named ("emulator-chat"), as GpuScaling
    # watches it (tests/infra/test_scaling_model.py).
    assert line["model"] == "emulator-chat:latest"
    assert line["status"] == "complete"
    assert line["prompt_tokens"] == len(QUESTION.split())
    assert line["completion_tokens"] == len(QUESTION.split()) + 2  # "You said:" + the words
    assert line["ttft_ms"] >= 200
    # Six tokens, 0.2 s apart.
    assert line["duration_ms"] >= 6 * 200 * 0.9
    assert line["duration_ms"] >= line["ttft_ms"]
    assert line["level"] == "INFO"
    assert line["correlation_id"] == response.headers["x-request-id"]

    records = emf_records(process)
    # The model host's own count, by service only (what the GPU's idle alarm sums).
    (host,) = [r for r in records if "ModelHostRequests" in r]
    assert host["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert host["ModelHostRequests"] == [1.0]
    (record,) = [r for r in records if "model" in r]
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "StratusTest"
    assert directive["Dimensions"] == [["model"]]
    assert record["model"] == "emulator-chat:latest"
    assert metric_names(record) == {"Completions", "TimeToFirstToken", "TokensPerSecond"}
    assert record["Completions"] == [1.0]
    assert record["TimeToFirstToken"][0] >= 200
    assert 0 < record["TokensPerSecond"][0] < 10


async def test_no_log_or_metric_carries_the_message_text(
    chat_stack: ChatStack, process: AppProcess
):
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    for stream in (True, False):
        body = chat_body(QUESTION, chat_id=chat_id, stream=stream)
        assert (await post(process, user, body)).status_code == 200
    chat_stack.emulator.set_faults(error_after=2)
    failed = await post(process, user, chat_body(QUESTION, chat_id=chat_id, stream=True))
    assert "error" in sse_events(failed.text)[-1]
    wait_for_lines(process, 3)
    output = process.log.read_text().lower()
    # The answer repeats the question, so this covers both directions.
    leaked = [word for word in SECRET_WORDS if word in output]
    assert not leaked, f"message text in the process output: {leaked}"
    assert [line["status"] for line in generation_lines(process)] == [
        "complete",
        "complete",
        "error",
    ]


async def test_every_ending_is_counted_under_its_own_metric(
    chat_stack: ChatStack, process: AppProcess
):
    user = chat_stack.user
    chat_stack.emulator.set_faults(error_after=1)
    assert (await post(process, user, chat_body("fails", stream=True))).status_code == 200
    chat_stack.emulator.set_faults(error_after=None, token_delay=0.05)
    long = " ".join(f"w{i}" for i in range(60))
    async with (
        httpx.AsyncClient(base_url=process.base_url, timeout=30) as http,
        http.stream(
            "POST",
            "/v1/chat/completions",
            json=chat_body(long, stream=True),
            headers=user.headers,
        ) as streaming,
    ):
        task_id = streaming.headers["x-stratus-task-id"]
        stop = await http.post(f"/api/tasks/stop/{task_id}", headers=user.headers)
        assert stop.status_code == 200
        await streaming.aread()
    chat_stack.emulator.set_faults(token_delay=None)
    # STRATUS_RATE_LIMIT_RPM is 3 in this process: the third request is the last allowed.
    assert (await post(process, user, chat_body("ok"))).status_code == 200
    assert (await post(process, user, chat_body("over"))).status_code == 429
    # Three generations, the refusal, and ModelHostRequests for each request sent upstream.
    wait_for_lines(process, 7, kind="emf")

    statuses = [line["status"] for line in generation_lines(process)]
    assert statuses == ["error", "cancelled", "complete"]
    error_line = generation_lines(process)[0]
    assert error_line["error_code"] == "upstream_error"
    by_metric = {name: r for r in emf_records(process) for name in metric_names(r)}
    assert by_metric["UpstreamErrors"]["UpstreamErrors"] == [1.0]
    assert by_metric["Stops"]["Stops"] == [1.0]
    assert by_metric["Completions"]["Completions"] == [1.0]
    limit = by_metric["LimitHits"]
    assert limit["LimitHits"] == [1.0]
    assert limit["model"] == "emulator-chat:latest"
    assert limit["limit"] == "requests"
    per_model = [r for r in emf_records(process) if "ModelHostRequests" not in r]
    assert all(record["model"] == "emulator-chat:latest" for record in per_model)
    # The refused request never reached the model host.
    assert sum("ModelHostRequests" in r for r in emf_records(process)) == 3
