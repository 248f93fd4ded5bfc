"""The authenticating proxy (gpu-host/proxy/default.conf.template) under Debian's real nginx.

GIVEN the proxy in front of the model-host emulator on loopback, WHEN clients call it with and
without the bearer token, THEN only authenticated inference and read routes reach the emulator,
and a token stream arrives chunk by chunk.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx
import pytest

from local.emulator import expected_reply
from local.emulator.testing import EmulatorHandle
from tests.gpuhost.conftest import TOKEN
from tests.support.proxy import RunningProxy

MESSAGES = [{"role": "user", "content": "one two three four five six seven"}]
CHAT: dict[str, Any] = {"model": "emulator-chat", "messages": MESSAGES}


def test_request_without_token_is_refused_and_never_reaches_ollama(
    proxy: RunningProxy, emulator: EmulatorHandle
) -> None:
    for method, path in [("GET", "/api/version"), ("POST", "/api/chat"), ("GET", "/")]:
        response = httpx.request(method, proxy.base_url + path, json=CHAT)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json() == {"error": "missing or invalid bearer token"}
    assert emulator.stats.request_counts == {}


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        f"Bearer  {TOKEN}",
        TOKEN,
        "Bearer",
    ],
)
def test_wrong_token_is_refused(proxy: RunningProxy, emulator: EmulatorHandle, header: str) -> None:
    response = httpx.get(proxy.base_url + "/api/tags", headers={"Authorization": header})
    assert response.status_code == 401
    assert emulator.stats.request_counts == {}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/pull"),
        ("POST", "/api/push"),
        ("POST", "/api/create"),
        ("POST", "/api/copy"),
        ("DELETE", "/api/delete"),
        ("POST", "/api/blobs/sha256:" + "0" * 64),
        ("HEAD", "/api/blobs/sha256:" + "0" * 64),
        # Smuggling attempts: the normalised path is what is checked and what is sent.
        ("POST", "/api/chat/../pull"),
        ("POST", "/api/%70ull"),
        ("POST", "//api/pull"),
        # Legacy and OpenAI-compatible routes are not served either (see gpu-host/README.md).
        ("POST", "/api/embeddings"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
        # A served path with the wrong method.
        ("GET", "/api/chat"),
        ("DELETE", "/api/tags"),
        ("POST", "/_emulator/reset"),
    ],
)
def test_management_and_unlisted_routes_are_refused_even_with_the_token(
    proxy: RunningProxy,
    emulator: EmulatorHandle,
    auth: dict[str, str],
    method: str,
    path: str,
) -> None:
    body = json.dumps({"model": "emulator-chat", "name": "emulator-chat"})
    response = httpx.request(method, proxy.base_url + path, headers=auth, content=body)
    assert response.status_code == 403
    if method != "HEAD":
        assert response.json() == {"error": "this route is not served by the proxy"}
    assert emulator.stats.management_calls == 0
    assert emulator.stats.request_counts == {}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/api/version", None),
        ("GET", "/api/tags", None),
        ("GET", "/api/ps", None),
        ("POST", "/api/show", {"model": "emulator-chat"}),
        ("POST", "/api/chat", {**CHAT, "stream": False}),
        ("POST", "/api/generate", {"model": "emulator-chat", "prompt": "hi", "stream": False}),
        ("POST", "/api/embed", {"model": "emulator-embed", "input": ["a b", "c"]}),
    ],
)
def test_inference_and_read_routes_pass_with_the_token(
    proxy: RunningProxy,
    emulator: EmulatorHandle,
    auth: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    response = httpx.request(method, proxy.base_url + path, headers=auth, json=body)
    assert response.status_code == 200, response.text
    assert emulator.stats.requests(f"{method} {path}") == 1
    # The token is the proxy's business: Ollama never sees it.
    last = emulator.stats.last_request
    assert last is not None
    assert last.path == path
    assert not last.has_authorization


def test_chat_reply_comes_back_whole(
    proxy: RunningProxy, emulator: EmulatorHandle, auth: dict[str, str]
) -> None:
    response = httpx.post(
        proxy.base_url + "/api/chat", headers=auth, json={**CHAT, "stream": False}
    )
    assert response.json()["message"]["content"] == "".join(expected_reply(MESSAGES))


def test_a_token_stream_passes_through_unbuffered(
    proxy: RunningProxy, emulator: EmulatorHandle, auth: dict[str, str]
) -> None:
    delay = 0.25
    emulator.set_faults(token_delay=delay)
    tokens = expected_reply(MESSAGES)
    arrivals: list[float] = []
    lines: list[dict[str, Any]] = []
    started = time.monotonic()
    with httpx.stream(
        "POST", proxy.base_url + "/api/chat", headers=auth, json=CHAT, timeout=30
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                arrivals.append(time.monotonic() - started)
                lines.append(json.loads(line))
    assert [line["message"]["content"] for line in lines[:-1]] == tokens
    assert lines[-1]["done"] is True
    total = arrivals[-1]
    assert total >= delay * len(tokens) * 0.9
    # Buffered, every line would land together at the end. Unbuffered, the first token
    # arrives after about one token delay, and the lines come spread out over the stream.
    assert arrivals[0] < total / 2, arrivals
    content = arrivals[:-1]  # the closing line follows the last token at once
    gaps = [later - earlier for earlier, later in itertools.pairwise(content)]
    assert min(gaps) > delay / 3, arrivals


def test_request_body_limit_allows_images_and_bounds_the_rest(
    proxy: RunningProxy, emulator: EmulatorHandle, auth: dict[str, str]
) -> None:
    image = "A" * (6 * 1024 * 1024)  # a 4.5 MB picture, base64-encoded
    with_image = {**CHAT, "stream": False, "messages": [{**MESSAGES[0], "images": [image]}]}
    response = httpx.post(proxy.base_url + "/api/chat", headers=auth, json=with_image, timeout=30)
    assert response.status_code == 200, response.text

    too_big = {**with_image, "messages": [{"role": "user", "content": "x", "images": [image] * 4}]}
    response = httpx.post(proxy.base_url + "/api/chat", headers=auth, json=too_big, timeout=30)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}
    assert emulator.stats.requests("POST /api/chat") == 1


def test_official_ollama_client_streams_through_the_proxy(
    proxy: RunningProxy, emulator: EmulatorHandle
) -> None:
    import ollama

    client = ollama.Client(host=proxy.base_url, headers={"Authorization": f"Bearer {TOKEN}"})
    parts = [part.message.content for part in client.chat("emulator-chat", MESSAGES, stream=True)]
    assert "".join(p or "" for p in parts) == "".join(expected_reply(MESSAGES))
    with pytest.raises(ollama.ResponseError) as refused:
        client.pull("emulator-chat")
    assert refused.value.status_code == 403
    assert emulator.stats.management_calls == 0
