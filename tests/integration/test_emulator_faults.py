"""Fault injection, stats and control endpoints, observed over raw HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from local.emulator import EmulatorConfig, expected_reply, running_emulator
from local.emulator.delivery import INJECTED_ERROR

MESSAGES = [{"role": "user", "content": "count one two three four"}]
CHAT_BODY = {"model": "emulator-chat", "messages": MESSAGES}
REPLY = expected_reply(MESSAGES)  # 6 tokens
V1_BODY = {**CHAT_BODY, "stream": True}
CLIENT_TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture
def http(emulator):
    with httpx.Client(base_url=emulator.base_url, timeout=CLIENT_TIMEOUT) as client:
        yield client


def read_lines(response, into):
    """Appends each line of a streamed response to `into` (so it survives an exception)."""
    for line in response.iter_lines():
        if line:
            into.append(line)


def stream_lines(http, path, body, into, headers=None):
    with http.stream("POST", path, json=body, headers=headers) as response:
        assert response.status_code == 200
        read_lines(response, into)


# Normal streaming, as the baseline the faults depart from.


def test_stream_is_the_default_and_completes(http, emulator):
    lines: list[str] = []
    with http.stream("POST", "/api/chat", json=CHAT_BODY) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        read_lines(response, lines)
    parsed = [json.loads(line) for line in lines]
    assert [p["message"]["content"] for p in parsed[:-1]] == REPLY
    assert parsed[-1]["done"] is True
    assert emulator.stats.streams_started == 1
    assert emulator.stats.streams_completed == 1


def test_v1_stream_ends_with_done_marker(http):
    lines: list[str] = []
    with http.stream("POST", "/v1/chat/completions", json=V1_BODY) as response:
        assert response.headers["content-type"] == "text/event-stream"
        read_lines(response, lines)
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


# Break faults.


def test_reset_breaks_the_transfer(http, emulator):
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        stream_lines(http, "/api/chat", CHAT_BODY, lines, {"x-emulator-fault": "reset_after=2"})
    assert [json.loads(line)["message"]["content"] for line in lines] == REPLY[:2]
    assert emulator.stats.wait_for(lambda s: s.streams_faulted == 1, timeout=2)
    assert emulator.stats.streams_completed == 0


def test_reset_after_last_token_withholds_only_the_done_line(http):
    lines: list[str] = []
    fault = {"x-emulator-fault": f"reset_after={len(REPLY)}"}
    with pytest.raises(httpx.RemoteProtocolError):
        stream_lines(http, "/api/chat", CHAT_BODY, lines, fault)
    assert len(lines) == len(REPLY)
    assert not any(json.loads(line)["done"] for line in lines)


def test_reset_beyond_the_reply_never_fires(http):
    lines: list[str] = []
    fault = {"x-emulator-fault": f"reset_after={len(REPLY) + 1}"}
    stream_lines(http, "/api/chat", CHAT_BODY, lines, fault)
    assert json.loads(lines[-1])["done"] is True


def test_reset_on_a_non_streamed_reply(http):
    body = {**CHAT_BODY, "stream": False}
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/api/chat", json=body, headers={"x-emulator-fault": "reset_after=1"})


def test_reset_on_v1_stream(http):
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        stream_lines(
            http, "/v1/chat/completions", V1_BODY, lines, {"x-emulator-fault": "reset_after=3"}
        )
    assert len(lines) == 3
    assert "data: [DONE]" not in lines


def test_stall_times_out_the_client_and_counts_as_abandoned(emulator):
    emulator.set_faults(stall_after=1)
    lines: list[str] = []
    timeout = httpx.Timeout(5.0, read=0.3)
    with httpx.Client(base_url=emulator.base_url, timeout=timeout) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            stream_lines(client, "/api/chat", CHAT_BODY, lines)
    assert time.monotonic() - started < 3
    assert len(lines) == 1
    # The client hung up on the stalled stream; the server must notice.
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)


def test_stall_is_bounded():
    with running_emulator(EmulatorConfig(stall_max_seconds=0.3)) as emulator:
        emulator.set_faults(stall_after=2)
        lines: list[str] = []
        with httpx.Client(base_url=emulator.base_url, timeout=CLIENT_TIMEOUT) as client:
            started = time.monotonic()
            with pytest.raises(httpx.RemoteProtocolError):
                stream_lines(client, "/api/chat", CHAT_BODY, lines)
        assert 0.25 < time.monotonic() - started < 3
        assert len(lines) == 2
        assert emulator.stats.streams_faulted == 1


def test_bad_json_line_then_clean_end(http, emulator):
    lines: list[str] = []
    stream_lines(http, "/api/chat", CHAT_BODY, lines, {"x-emulator-fault": "bad_json_after=3"})
    assert len(lines) == 4
    for line in lines[:3]:
        json.loads(line)
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[3])
    assert emulator.stats.streams_faulted == 1


def test_bad_json_on_v1_stream(http):
    lines: list[str] = []
    fault = {"x-emulator-fault": "bad_json_after=1"}
    stream_lines(http, "/v1/chat/completions", V1_BODY, lines, fault)
    assert len(lines) == 2
    assert lines[1].startswith("data: ")
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1].removeprefix("data: "))


def test_error_line_mid_stream(http):
    lines: list[str] = []
    stream_lines(http, "/api/chat", CHAT_BODY, lines, {"x-emulator-fault": "error_after=2"})
    assert len(lines) == 3
    assert json.loads(lines[2]) == {"error": INJECTED_ERROR}


def test_error_event_on_v1_stream(http):
    lines: list[str] = []
    fault = {"x-emulator-fault": "error_after=1"}
    stream_lines(http, "/v1/chat/completions", V1_BODY, lines, fault)
    assert len(lines) == 2
    error = json.loads(lines[1].removeprefix("data: "))["error"]
    assert error["message"] == INJECTED_ERROR
    assert "data: [DONE]" not in lines


def test_error_on_non_streamed_reply_is_a_500(http):
    response = http.post(
        "/api/chat",
        json={**CHAT_BODY, "stream": False},
        headers={"x-emulator-fault": "error_after=0"},
    )
    assert response.status_code == 500
    assert response.json() == {"error": INJECTED_ERROR}


def test_fail_status_hits_model_calls_only(http, emulator):
    emulator.set_faults(fail_status=503)
    chat = http.post("/api/chat", json=CHAT_BODY)
    assert chat.status_code == 503
    assert "error" in chat.json()
    embed = http.post("/api/embed", json={"model": "emulator-embed", "input": "x"})
    assert embed.status_code == 503
    v1 = http.post("/v1/chat/completions", json=V1_BODY)
    assert v1.status_code == 503
    assert v1.json()["error"]["type"] == "api_error"
    # Health and listing still answer: the host is up, its model is failing.
    assert http.get("/api/tags").status_code == 200


def test_token_delay_paces_the_stream(http, emulator):
    emulator.set_faults(token_delay=0.05)
    started = time.monotonic()
    lines: list[str] = []
    stream_lines(http, "/api/chat", CHAT_BODY, lines)
    assert time.monotonic() - started >= 0.05 * len(REPLY) * 0.9
    assert len(lines) == len(REPLY) + 1


def test_header_overrides_global_faults_for_one_request(http, emulator):
    emulator.set_faults(error_after=1)
    lines: list[str] = []
    stream_lines(http, "/api/chat", CHAT_BODY, lines, {"x-emulator-fault": "error_after="})
    assert json.loads(lines[-1])["done"] is True
    lines.clear()
    stream_lines(http, "/api/chat", CHAT_BODY, lines)
    assert "error" in json.loads(lines[-1])


def test_bad_fault_header_is_a_400(http):
    response = http.get("/api/tags", headers={"x-emulator-fault": "explode=1"})
    assert response.status_code == 400
    assert "explode" in response.json()["error"]


# Stats.


def test_client_hanging_up_counts_as_abandoned(http, emulator):
    emulator.set_faults(token_delay=0.05)
    with http.stream("POST", "/api/chat", json=CHAT_BODY) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["done"] is False
        assert json.loads(next(lines))["done"] is False
    assert emulator.stats.wait_for(lambda s: s.streams_abandoned == 1, timeout=3)
    assert emulator.stats.streams_completed == 0
    assert emulator.stats.streams_started == 1


def test_management_calls_are_counted(http, emulator):
    blob = b"layer bytes"
    digest = "sha256:" + __import__("hashlib").sha256(blob).hexdigest()
    http.post("/api/pull", json={"model": "llama3"})
    http.post("/api/push", json={"model": "emulator-chat"})
    http.post("/api/create", json={"model": "mine", "from": "emulator-chat"})
    http.post("/api/copy", json={"source": "emulator-chat", "destination": "copy"})
    http.request("DELETE", "/api/delete", json={"model": "emulator-chat"})
    assert http.head(f"/api/blobs/{digest}").status_code == 404
    assert http.post(f"/api/blobs/{digest}", content=blob).status_code == 201
    assert http.head(f"/api/blobs/{digest}").status_code == 200
    http.post("/api/chat", json=CHAT_BODY)
    assert emulator.stats.management_calls == 8
    assert emulator.stats.management_counts["HEAD /api/blobs/{digest}"] == 2
    snapshot = http.get("/_emulator/stats").json()
    assert snapshot["management_calls"] == 8
    assert snapshot["requests"]["POST /api/chat"] == 1


def test_pull_streams_progress(http):
    response = http.post("/api/pull", json={"model": "llama3"})
    statuses = [json.loads(line)["status"] for line in response.text.splitlines()]
    assert statuses[-1] == "success"
    assert http.post("/api/pull", json={"model": "x", "stream": False}).json() == {
        "status": "success"
    }


def test_host_and_authorization_are_recorded(http, emulator):
    http.get("/api/tags", headers={"host": "gpu-host.internal:11434"})
    http.get("/api/version", headers={"authorization": "Bearer abc"})
    first, second = emulator.stats.recent_requests
    assert (first.host, first.has_authorization) == ("gpu-host.internal:11434", False)
    assert (second.path, second.has_authorization) == ("/api/version", True)


def test_request_bodies_are_recorded_verbatim(http, emulator):
    http.post("/api/chat", json=CHAT_BODY)
    http.post("/api/embed", json={"model": "emulator-embed", "input": ["q"]})
    assert emulator.stats.last_body("/api/chat") == CHAT_BODY
    assert emulator.stats.bodies("/api/embed") == [{"model": "emulator-embed", "input": ["q"]}]


def test_require_api_key(http, emulator):
    emulator.set_faults(require_api_key="k-123")
    assert http.get("/api/tags").status_code == 401
    assert http.get("/api/tags").json() == {"error": "unauthorized"}
    wrong = http.get("/api/tags", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert http.get("/api/tags", headers={"authorization": "Bearer k-123"}).status_code == 200
    v1 = http.get("/v1/models")
    assert v1.status_code == 401
    assert v1.json()["error"]["message"] == "unauthorized"
    # The control plane is not behind the emulated proxy.
    assert http.get("/_emulator/stats").status_code == 200
    assert [r.has_authorization for r in emulator.stats.recent_requests] == [
        False,
        False,
        True,
        True,
        False,
    ]


# Control endpoints and odd requests.


def test_control_endpoints(http, emulator):
    response = http.post("/_emulator/faults", json={"reset_after": 1, "token_delay": 0.01})
    assert response.json()["faults"]["reset_after"] == 1
    assert emulator.state.faults.token_delay == 0.01
    with pytest.raises(httpx.RemoteProtocolError):
        stream_lines(http, "/api/chat", CHAT_BODY, [])
    assert http.post("/_emulator/faults", json={"reset_after": -2}).status_code == 400
    assert http.post("/_emulator/faults", json={"reset_after": None}).json()["faults"] == {
        **http.get("/_emulator/faults").json()["faults"],
        "reset_after": None,
    }
    assert http.post("/_emulator/reset").json()["faults"]["token_delay"] == 0.0
    assert http.get("/_emulator/stats").json()["requests"] == {}


def test_bad_requests(http):
    bad_json = http.post("/api/chat", content=b"{nope")
    assert bad_json.status_code == 400
    assert "error" in bad_json.json()
    no_model = http.post("/api/chat", json={"messages": []})
    assert no_model.json() == {"error": "model is required"}
    wrong_kind = http.post("/api/chat", json={**CHAT_BODY, "model": "emulator-embed"})
    assert wrong_kind.status_code == 400
    bad_stream = http.post("/api/chat", json={**CHAT_BODY, "stream": "yes"})
    assert bad_stream.status_code == 400
    v1_bad = http.post("/v1/chat/completions", json={"model": "emulator-chat"})
    assert v1_bad.status_code == 400
    assert v1_bad.json()["error"]["type"] == "invalid_request_error"
    unknown = http.get("/api/nothing")
    assert (unknown.status_code, unknown.text) == (404, "404 page not found")


# Lifecycle.


def test_shutdown_is_quick_even_with_a_stalled_stream():
    errors: list[BaseException] = []
    with running_emulator() as emulator:
        emulator.set_faults(stall_after=1)

        def consume() -> None:
            try:
                with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
                    stream_lines(client, "/api/chat", CHAT_BODY, [])
            except httpx.HTTPError as exc:
                errors.append(exc)

        consumer = threading.Thread(target=consume)
        consumer.start()
        assert emulator.stats.wait_for(lambda s: s.streams_started == 1, timeout=3)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    consumer.join(5)
    assert not consumer.is_alive()
    assert errors  # The stalled client saw its stream cut, not a clean end.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_running_emulator_on_a_chosen_port():
    port = free_port()
    with running_emulator(port=port) as emulator:
        assert emulator.base_url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{emulator.base_url}/", timeout=5).text == "Ollama is running"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)


def test_cli_serves_with_its_flags():
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "local.emulator",
        "--port",
        str(port),
        "--model",
        "extra-chat",
        "--require-api-key",
        "cli-key",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        auth = {"authorization": "Bearer cli-key"}
        deadline = time.monotonic() + 15
        while True:
            try:
                tags = httpx.get(f"{base_url}/api/tags", headers=auth, timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "emulator CLI exited"
                assert time.monotonic() < deadline, "emulator CLI did not start"
                time.sleep(0.05)
        names = {model["name"] for model in tags.json()["models"]}
        assert names == {
            "emulator-chat:latest",
            "emulator-think:latest",
            "emulator-embed:latest",
            "nomic-embed-text:latest",
            "extra-chat:latest",
        }
        assert httpx.get(f"{base_url}/api/tags", timeout=1).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"model-host emulator on http://127.0.0.1:{port}" in output.decode()
    assert b"Traceback" not in output


def test_cli_rejects_bad_fault_flags():
    result = subprocess.run(
        [sys.executable, "-m", "local.emulator", "--fail-status", "200"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "fail_status" in result.stderr
