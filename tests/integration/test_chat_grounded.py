"""Grounded chat: ``files`` on a completion retrieves from the caller's files and collections
(rows 2 and the issue's "Grounded chat"), through the real API on a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.auth import Account, apply_env
from tests.support.chat import CHAT_TEST_ENV, sse_events
from tests.support.live_server import live_server
from tests.support.rag import uploaded, users, wait_done

pytestmark = pytest.mark.anyio

FACT = b"The lighthouse keeper on Quillon Island feeds exactly seven herons every morning.\n"
CANARY = b"ZEBRA-CANARY-4471 is the secret word of the other account.\n"


@pytest.fixture
async def http(rag_env) -> AsyncIterator[httpx.AsyncClient]:
    apply_env(CHAT_TEST_ENV)
    from local.composed import create_local_app

    with live_server(create_local_app()) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            yield client


async def ready_file(http: httpx.AsyncClient, account: Account, name: str, text: bytes) -> str:
    file_id = await uploaded(http, account, name, text)
    assert (await wait_done(http, account, file_id))["state"] == "ready"
    return file_id


def ask(question: str, files: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "model": "emulator-chat",
        "messages": [{"role": "user", "content": question}],
        "files": files,
        **extra,
    }


async def test_open_webuis_flow_upload_knowledge_chat_cites_the_source(http, emulator):
    _, alice, _ = await users(http)
    file_id = await ready_file(http, alice, "herons.txt", FACT)
    created = await http.post(
        "/api/v1/knowledge/create",
        json={"name": "Island notes", "description": "facts"},
        headers=alice.headers,
    )
    assert created.status_code == 200, created.text
    knowledge_id = created.json()["id"]
    added = await http.post(
        f"/api/v1/knowledge/{knowledge_id}/file/add",
        json={"file_id": file_id},
        headers=alice.headers,
    )
    assert added.status_code == 200, added.text
    chat = await http.post(
        "/api/v1/chats/new", json={"chat": {"title": "herons"}}, headers=alice.headers
    )
    chat_id = chat.json()["id"]
    question = "How many herons does the lighthouse keeper feed?"
    response = await http.post(
        "/api/chat/completions",
        json=ask(question, [{"type": "collection", "id": knowledge_id}], stream=True,
                 chat_id=chat_id),
        headers=alice.headers,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    events = sse_events(response.text)
    first = events[0]
    assert [s["name"] for s in first["sources"]] == ["herons.txt"]
    assert "seven herons" in first["sources"][0]["text"]
    assert all("sources" not in e for e in events[1:-1])
    # The model saw the retrieved text, numbered, and the question; no extra model call.
    prompt = emulator.stats.last_body("/api/chat")["messages"][-1]["content"]
    assert "seven herons" in prompt
    assert '<source id="1" name="herons.txt"' in prompt
    assert question in prompt
    assert emulator.stats.requests("POST /api/chat") == 1
    # The saved turn keeps the question as asked and the answer's sources.
    saved = await http.get(f"/api/v1/chats/{chat_id}", headers=alice.headers)
    messages = sorted(
        saved.json()["chat"]["history"]["messages"].values(), key=lambda m: m["role"] != "user"
    )
    assert messages[0]["content"] == question
    assert [s["name"] for s in messages[1]["sources"]] == ["herons.txt"]
    # The emulator answers like a model: the source sentence, with its marker.
    assert messages[1]["content"] == FACT.decode().strip() + " [1]"


async def test_a_non_streamed_answer_carries_its_sources(http, emulator):
    _, alice, _ = await users(http)
    file_id = await ready_file(http, alice, "herons.txt", FACT)
    response = await http.post(
        "/v1/chat/completions",
        json=ask("herons keeper", [{"type": "file", "id": file_id}]),
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sources"][0]["file_id"] == file_id
    assert body["choices"][0]["message"]["role"] == "assistant"


async def test_someone_elses_file_or_collection_is_404_and_never_reaches_the_model(http, emulator):
    _, alice, bob = await users(http)
    canary_file = await ready_file(http, alice, "secret.txt", CANARY)
    created = await http.post(
        "/api/v1/knowledge/create", json={"name": "mine", "description": ""},
        headers=alice.headers,
    )  # fmt: skip
    knowledge_id = created.json()["id"]
    await http.post(
        f"/api/v1/knowledge/{knowledge_id}/file/add",
        json={"file_id": canary_file},
        headers=alice.headers,
    )
    for ref in ({"type": "file", "id": canary_file}, {"type": "collection", "id": knowledge_id}):
        for path in ("/v1/chat/completions", "/api/chat/completions"):
            response = await http.post(
                path, json=ask("what is the secret word?", [ref]), headers=bob.headers
            )
            assert response.status_code == 404, response.text
            assert "CANARY" not in response.text
    assert emulator.stats.requests("POST /api/chat") == 0
    # Bob's own file, searched with the canary's words: Alice's text never reaches the prompt.
    bob_file = await ready_file(http, bob, "bob.txt", b"Bob's notes: the secret word is unknown.\n")
    response = await http.post(
        "/v1/chat/completions",
        json=ask("ZEBRA-CANARY-4471 secret word", [{"type": "file", "id": bob_file}]),
        headers=bob.headers,
    )
    assert response.status_code == 200
    assert "CANARY-4471 is the secret" not in response.text
    sent = emulator.stats.last_body("/api/chat")
    assert all("is the secret word of the other account" not in str(m) for m in sent["messages"])


async def test_files_with_nothing_searchable_leave_the_question_as_asked(http, emulator):
    _, alice, _ = await users(http)
    created = await http.post(
        "/api/v1/knowledge/create", json={"name": "empty", "description": ""},
        headers=alice.headers,
    )  # fmt: skip
    response = await http.post(
        "/v1/chat/completions",
        json=ask("plain question", [{"type": "collection", "id": created.json()["id"]}]),
        headers=alice.headers,
    )
    assert response.status_code == 200
    assert response.json()["sources"] == []
    assert emulator.stats.last_body("/api/chat")["messages"][-1]["content"] == "plain question"


async def test_one_long_file_does_not_take_every_source(http):
    """Grounded chat keeps at most STRATUS_RAG_CHAT_MAX_PER_FILE (2) chunks of one file while
    another file has a match, so a long file cannot crowd the others out of the prompt."""
    _, alice, _ = await users(http)
    long = b"\n\n".join(
        b"The keeper of Quillon Island lighthouse logs herons, part %d. " % n + b"Filler. " * 120
        for n in range(6)
    )
    long_id = await ready_file(http, alice, "log.txt", long)
    # It shares one word with the question: every chunk of the long file outranks it.
    short_id = await ready_file(http, alice, "herons.txt", b"Grey herons nest on cliffs.")
    files = [{"type": "file", "id": long_id}, {"type": "file", "id": short_id}]
    response = await http.post(
        "/api/chat/completions",
        json=ask("Quillon Island lighthouse keeper herons", files),
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    names = [s["name"] for s in response.json()["sources"]]
    assert len(names) == 3  # RAG_TOP_K
    assert names.count("log.txt") == 2
    assert "herons.txt" in names
