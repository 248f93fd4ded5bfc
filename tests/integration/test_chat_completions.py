"""Chat completions through a real server: wire format, persistence, idempotency, ownership."""

from __future__ import annotations

import asyncio

import pytest

from local.emulator.content import expected_reply
from tests.support.chat import ChatStack, chat_body, content_of, sse_events

pytestmark = pytest.mark.anyio

CHAT = "POST /api/chat"


def reply_text(text: str) -> str:
    return "".join(expected_reply([{"role": "user", "content": text}]))


async def test_a_streamed_completion_follows_openais_chunk_format(chat_stack: ChatStack):
    body = chat_body("stream this please", stream=True, stream_options={"include_usage": True})
    response = await chat_stack.complete(chat_stack.user, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    task_id = response.headers["x-stratus-task-id"]
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {f"chatcmpl-{task_id}"}
    assert len({c["created"] for c in chunks}) == 1
    with_choices = [c for c in chunks if c["choices"]]
    assert with_choices[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("role" not in c["choices"][0]["delta"] for c in with_choices[1:])
    assert all(c["usage"] is None for c in with_choices)
    assert with_choices[-1]["choices"][0]["finish_reason"] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == len(
        reply_text("stream this please").split()
    )
    assert content_of(events) == reply_text("stream this please")


async def test_a_non_streamed_completion_is_one_chat_completion(chat_stack: ChatStack):
    response = await chat_stack.complete(chat_stack.user, chat_body("whole answer"))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": reply_text("whole answer"),
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 4
    assert body["id"] == f"chatcmpl-{response.headers['x-stratus-task-id']}"


async def test_open_webuis_path_answers_the_same(chat_stack: ChatStack):
    response = await chat_stack.complete(
        chat_stack.user, chat_body("same here"), path="/api/chat/completions"
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == reply_text("same here")


async def test_the_upstream_gets_ollamas_chat_request(chat_stack: ChatStack):
    body = chat_body("options please", temperature=0.5, max_tokens=7, stop="END", seed=3)
    assert (await chat_stack.complete(chat_stack.user, body)).status_code == 200
    sent = chat_stack.emulator.stats.last_body("/api/chat")
    assert sent["stream"] is True
    assert sent["model"] == "emulator-chat:latest"
    assert sent["options"] == {"temperature": 0.5, "num_predict": 7, "stop": ["END"], "seed": 3}


async def test_a_turn_with_chat_id_is_saved_with_both_messages(chat_stack: ChatStack):
    chat_id = await chat_stack.new_chat(chat_stack.user)
    body = chat_body("remember this", chat_id=chat_id, stream=True)
    response = await chat_stack.complete(chat_stack.user, body)
    assert response.status_code == 200
    messages = await chat_stack.chat_messages(chat_stack.user, chat_id)
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    question, answer = messages
    assert question["content"] == "remember this"
    assert answer["content"] == reply_text("remember this")
    assert answer["parentId"] == question["id"]
    assert answer["usage"]["completion_tokens"] == 4
    assert response.headers["x-stratus-message-id"] == answer["id"]
    assert response.headers["x-stratus-user-message-id"] == question["id"]


async def test_regenerate_makes_a_branch_under_the_same_question(chat_stack: ChatStack):
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    first = await chat_stack.complete(user, chat_body("pick a number", chat_id=chat_id))
    question_id = first.headers["x-stratus-user-message-id"]
    again = await chat_stack.complete(
        user, chat_body("pick a number", chat_id=chat_id, parent_id=question_id)
    )
    assert again.status_code == 200
    assert "x-stratus-user-message-id" not in again.headers
    messages = await chat_stack.chat_messages(user, chat_id)
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    assert {m["parentId"] for m in messages[1:]} == {question_id}


async def test_an_edited_question_is_resent_as_a_sibling_branch_even_the_first(
    chat_stack: ChatStack,
):
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    first = await chat_stack.complete(user, chat_body("first question", chat_id=chat_id))
    second = await chat_stack.complete(user, chat_body("second question", chat_id=chat_id))
    first_answer = first.headers["x-stratus-message-id"]
    second_question = second.headers["x-stratus-user-message-id"]
    # The second question, edited: resent under its old parent (the first answer).
    edited = await chat_stack.complete(
        user, chat_body("second, edited", chat_id=chat_id, parent_id=first_answer)
    )
    assert edited.status_code == 200
    # The first question, edited: a new branch from the top.
    rooted = await chat_stack.complete(
        user, chat_body("first, edited", chat_id=chat_id, at_root=True)
    )
    assert rooted.status_code == 200
    messages = {m["id"]: m for m in await chat_stack.chat_messages(user, chat_id)}
    edited_question = messages[edited.headers["x-stratus-user-message-id"]]
    assert edited_question["parentId"] == first_answer == messages[second_question]["parentId"]
    assert messages[first_answer]["childrenIds"] == [second_question, edited_question["id"]]
    root = messages[rooted.headers["x-stratus-user-message-id"]]
    assert (root["parentId"], root["content"]) == (None, "first, edited")
    assert messages[rooted.headers["x-stratus-message-id"]]["parentId"] == root["id"]
    assert len([m for m in messages.values() if m["parentId"] is None]) == 2
    # at_root and parent_id together name two places.
    both = await chat_stack.complete(
        user, chat_body("where?", chat_id=chat_id, at_root=True, parent_id=first_answer)
    )
    assert both.status_code == 422
    assert both.json()["error"]["param"] == "at_root"


async def test_a_retry_with_the_same_id_replays_without_a_second_generation(
    chat_stack: ChatStack,
):
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    body = chat_body("only once", chat_id=chat_id, id="client-answer-1")
    first = await chat_stack.complete(user, body)
    second = await chat_stack.complete(user, {**body, "stream": True})
    assert first.status_code == second.status_code == 200
    assert second.headers["x-stratus-replayed"] == "true"
    assert content_of(sse_events(second.text)) == first.json()["choices"][0]["message"]["content"]
    assert chat_stack.emulator.stats.requests(CHAT) == 1
    assert len(await chat_stack.chat_messages(user, chat_id)) == 2


async def test_concurrent_retries_make_one_question_and_one_generation(chat_stack: ChatStack):
    chat_stack.emulator.set_faults(token_delay=0.02)
    user = chat_stack.user
    chat_id = await chat_stack.new_chat(user)
    body = chat_body("at the same moment", chat_id=chat_id, id="client-answer-2", stream=True)
    responses = await asyncio.gather(*(chat_stack.complete(user, body) for _ in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 1
    assert set(statuses) <= {200, 409}
    assert chat_stack.emulator.stats.requests(CHAT) == 1
    assert len(await chat_stack.chat_messages(user, chat_id)) == 2
    for conflict in (r for r in responses if r.status_code == 409):
        assert "already being generated" in conflict.json()["error"]["message"]


async def test_someone_elses_chat_id_is_404_and_the_model_is_never_called(chat_stack: ChatStack):
    owner = chat_stack.user
    chat_id = await chat_stack.new_chat(owner)
    intruder = await chat_stack.other_user()
    for path in ("/v1/chat/completions", "/api/chat/completions"):
        response = await chat_stack.complete(
            intruder, chat_body("let me in", chat_id=chat_id), path=path
        )
        assert response.status_code == 404
    assert chat_stack.emulator.stats.requests(CHAT) == 0
    assert await chat_stack.chat_messages(owner, chat_id) == []


@pytest.mark.parametrize(
    "field",
    [
        {"api_base": "http://evil.example"},
        {"base_url": "http://evil.example"},
        {"api_key": "sk-theirs"},
    ],
)
async def test_client_supplied_routing_is_refused(chat_stack: ChatStack, field):
    response = await chat_stack.complete(chat_stack.user, chat_body("route me", **field))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == next(iter(field))
    assert chat_stack.emulator.stats.requests(CHAT) == 0


@pytest.mark.parametrize("model", ["evil.example.com/emulator-chat", "http://evil/x", "nope"])
async def test_a_model_name_cannot_pick_a_host(chat_stack: ChatStack, model):
    response = await chat_stack.complete(chat_stack.user, {**chat_body("x"), "model": model})
    assert response.status_code in {400, 404, 422}
    if response.status_code == 404:
        assert response.json()["error"]["code"] == "model_not_found"
    hosts = {r.host for r in chat_stack.emulator.stats.recent_requests}
    assert hosts <= {f"127.0.0.1:{chat_stack.emulator.port}"}
    assert chat_stack.emulator.stats.requests(CHAT) == 0


async def test_n_above_one_is_refused_before_the_model(chat_stack: ChatStack):
    response = await chat_stack.complete(chat_stack.user, chat_body("many", n=2))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"


async def test_pending_accounts_and_missing_credentials_are_refused(chat_stack: ChatStack):
    anonymous = await chat_stack.http.post("/v1/chat/completions", json=chat_body())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"
