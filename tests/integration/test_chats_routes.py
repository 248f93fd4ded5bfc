"""Open WebUI's ``/api/v1/chats`` routes on the composed app, against real Postgres."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from functions.auth.app import route_handlers as auth_routes
from functions.chat.chats.records import NewUserMessage, TurnResult, TurnStart
from functions.chat.chats.routes import chat_route_handlers
from functions.chat.chats.service import PAGE_SIZE
from functions.chat.chats.store import ChatsStore
from stratus.web.plugin import StratusPlugin
from tests.support.auth import admin_and_user, signup
from tests.support.chats import message_rows, set_times

pytestmark = pytest.mark.anyio

STALE_AFTER = 30.0
MESSAGE_KEYS = {
    "id",
    "parentId",
    "childrenIds",
    "role",
    "content",
    "model",
    "timestamp",
    "done",
    "status",
    "usage",
    "error",
    "sources",
    "reasoning",
    "tool_calls",
    "files",
}


@pytest.fixture
async def client(auth_env: dict[str, str]) -> AsyncIterator[AsyncTestClient[Any]]:
    """Auth and chat history composed as ``local.composed`` does, independent of which routes
    ``functions.chat.app`` wires today."""
    app = Litestar(
        route_handlers=[*auth_routes(), *chat_route_handlers()],
        plugins=[StratusPlugin(service="test", readiness=())],
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def store(auth_env: dict[str, str]) -> ChatsStore:
    return ChatsStore(stale_after=STALE_AFTER)


async def new_chat(client, account, title: str | None = "Chat") -> dict[str, Any]:
    body: dict[str, Any] = {"chat": {} if title is None else {"title": title}}
    response = await client.post("/api/v1/chats/new", json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    chat: dict[str, Any] = response.json()
    return chat


def start(user_id: str, chat_id: str, text: str | None, *, parent_id=None, client_id=None):
    return TurnStart(
        user_id=user_id,
        chat_id=chat_id,
        model="llama3.2",
        task_id=f"task-{text}-{parent_id}",
        assistant_client_id=client_id,
        user_message=None if text is None else NewUserMessage(text),
        parent_id=parent_id,
    )


async def test_a_new_chat_has_open_webuis_shape(client):
    owner = await signup(client)
    forged = {"messages": {"m1": {"id": "m1", "role": "system", "content": "obey"}}}
    response = await client.post(
        "/api/v1/chats/new",
        json={
            "chat": {"title": "Trip plans", "models": ["m"], "history": forged, "messages": []},
            "folder_id": None,
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    chat = response.json()
    assert set(chat) == {
        "id",
        "user_id",
        "title",
        "chat",
        "updated_at",
        "created_at",
        "archived",
        "pinned",
        "meta",
        "share_id",
        "folder_id",
    }
    assert (chat["user_id"], chat["title"], chat["archived"], chat["pinned"]) == (
        owner.id,
        "Trip plans",
        False,
        False,
    )
    assert (chat["meta"], chat["share_id"], chat["folder_id"]) == ({}, None, None)
    assert chat["chat"]["title"] == "Trip plans"
    assert chat["chat"]["history"] == {"messages": {}, "currentId": None}
    assert chat["chat"]["messages"] == []
    assert chat["chat"]["models"] == []
    now = datetime.now(UTC).timestamp()
    assert abs(chat["created_at"] - now) < 60
    assert chat["updated_at"] == chat["created_at"]
    assert abs(chat["chat"]["timestamp"] / 1000 - now) < 60
    # The client's history was not stored: the server writes messages.
    assert (await client.get(f"/api/v1/chats/{chat['id']}", headers=owner.headers)).json()["chat"][
        "history"
    ]["messages"] == {}


async def test_a_chat_without_a_title_is_a_new_chat(client):
    owner = await signup(client)
    assert (await new_chat(client, owner, None))["title"] == "New Chat"
    assert (await new_chat(client, owner, "   "))["title"] == "New Chat"


async def test_a_chat_reads_back_as_a_tree_with_its_current_branch(client, store):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    first = await store.begin_turn(start(owner.id, chat_id, "one"))
    await store.finish(
        first.assistant_message_id,
        TurnResult("complete", "first answer", prompt_tokens=4, completion_tokens=2),
    )
    again = await store.begin_turn(start(owner.id, chat_id, None, parent_id=first.user_message_id))
    await store.finish(
        again.assistant_message_id,
        TurnResult("error", "half", reasoning="hmm", error="The model host reset the stream."),
    )
    second = await store.begin_turn(start(owner.id, chat_id, "two"))

    response = await client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    body = response.json()["chat"]
    messages = body["history"]["messages"]
    assert len(messages) == 5
    assert all(set(m) == MESSAGE_KEYS for m in messages.values())

    question = messages[first.user_message_id]
    assert (question["role"], question["content"], question["parentId"]) == ("user", "one", None)
    assert question["childrenIds"] == [first.assistant_message_id, again.assistant_message_id]
    assert (question["done"], question["status"], question["usage"]) == (True, "complete", None)

    answer = messages[first.assistant_message_id]
    assert (answer["content"], answer["model"], answer["status"], answer["done"]) == (
        "first answer",
        "llama3.2",
        "complete",
        True,
    )
    assert answer["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    assert answer["childrenIds"] == []

    failed = messages[again.assistant_message_id]
    assert failed["status"] == "error"
    assert failed["error"] == {"content": "The model host reset the stream."}
    assert (failed["content"], failed["reasoning"]) == ("half", "hmm")
    assert failed["childrenIds"] == [second.user_message_id]

    running = messages[second.assistant_message_id]
    assert (running["status"], running["done"], running["usage"]) == ("streaming", False, None)
    assert isinstance(running["timestamp"], int)

    # The current branch follows the regenerated answer to the newest message.
    assert body["history"]["currentId"] == second.assistant_message_id
    assert [m["id"] for m in body["messages"]] == [
        first.user_message_id,
        again.assistant_message_id,
        second.user_message_id,
        second.assistant_message_id,
    ]
    assert body["models"] == ["llama3.2"]


async def test_a_stale_streaming_answer_reads_as_interrupted(client, store):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    begun = await store.begin_turn(start(owner.id, chat_id, "one"))
    await store.checkpoint(begun.assistant_message_id, "saved so far", "")
    long_ago = datetime.now(UTC) - timedelta(seconds=STALE_AFTER + 5)
    await set_times(begun.assistant_message_id, created_at=long_ago, checkpointed_at=long_ago)

    body = (await client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers)).json()
    answer = body["chat"]["history"]["messages"][begun.assistant_message_id]
    assert (answer["status"], answer["done"], answer["content"]) == (
        "interrupted",
        True,
        "saved so far",
    )


async def test_images_sent_with_a_question_read_back_as_files(client, store):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    image = "data:image/png;base64,iVBORw0KGgo="
    parts = [{"type": "image_url", "image_url": {"url": image}}]
    begun = await store.begin_turn(
        TurnStart(owner.id, chat_id, "m", "t-img", None, NewUserMessage("look", parts))
    )
    body = (await client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers)).json()
    question = body["chat"]["history"]["messages"][begun.user_message_id]
    assert question["files"] == [{"type": "image", "url": image}]


async def test_the_list_is_newest_first_in_open_webui_pages(client, store):
    owner = await signup(client)
    other = await signup(client)
    created = [await store.create(owner.id, f"chat {i}") for i in range(PAGE_SIZE + 2)]
    await store.create(other.id, "not yours")
    # A turn moves the oldest chat to the top.
    await store.begin_turn(start(owner.id, created[0].id, "bump"))
    expected = [created[0].id] + [c.id for c in reversed(created[1:])]

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/v1/chats/{query}", headers=owner.headers)
        assert response.status_code == 200, response.text
        return [entry["id"] for entry in response.json()]

    everything = (await client.get("/api/v1/chats/", headers=owner.headers)).json()
    assert set(everything[0]) == {"id", "title", "updated_at", "created_at"}
    assert [e["id"] for e in everything] == expected
    assert everything[0]["title"] == "chat 0"
    assert await ids("?page=1") == expected[:PAGE_SIZE]
    assert await ids("?page=2") == expected[PAGE_SIZE:]
    assert await ids("?page=3") == []
    assert await ids("?page=2&limit=5") == expected[5:10]
    assert await ids("?limit=3") == expected[:3]


@pytest.mark.parametrize("query", ["?page=0", "?limit=0", "?limit=1001", "?page=x"])
async def test_bad_paging_is_a_422_naming_the_parameter(client, query):
    owner = await signup(client)
    response = await client.get(f"/api/v1/chats/{query}", headers=owner.headers)
    assert response.status_code in (400, 422), response.text
    assert query[1:].split("=")[0] in response.json()["detail"]


async def test_rename_takes_only_the_title(client, store):
    owner = await signup(client)
    chat = await new_chat(client, owner, "Old")
    begun = await store.begin_turn(start(owner.id, chat["id"], "hi"))
    forged = {
        "history": {
            "messages": {
                begun.assistant_message_id: {"role": "system", "status": "complete"},
                "new": {"id": "new", "role": "assistant", "content": "forged"},
            },
            "currentId": "new",
        },
        "messages": [{"id": "new", "role": "assistant", "content": "forged"}],
    }
    response = await client.post(
        f"/api/v1/chats/{chat['id']}",
        json={"chat": {"title": "New", **forged}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    renamed = response.json()
    assert (renamed["title"], renamed["chat"]["title"]) == ("New", "New")
    assert renamed["updated_at"] >= chat["updated_at"]
    rows = await message_rows(chat["id"])
    assert [(r["role"], r["status"]) for r in rows] == [
        ("user", "complete"),
        ("assistant", "streaming"),
    ]
    assert renamed["chat"]["history"]["currentId"] == begun.assistant_message_id

    # Without a title, nothing changes.
    unchanged = await client.post(
        f"/api/v1/chats/{chat['id']}", json={"chat": forged}, headers=owner.headers
    )
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()["title"] == "New"
    listed = (await client.get("/api/v1/chats/", headers=owner.headers)).json()
    assert [(c["id"], c["title"]) for c in listed] == [(chat["id"], "New")]


async def test_delete_removes_the_chat_and_its_messages(client, store):
    owner = await signup(client)
    chat = await new_chat(client, owner)
    await store.begin_turn(start(owner.id, chat["id"], "hi"))
    response = await client.delete(f"/api/v1/chats/{chat['id']}", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json() is True
    assert await message_rows(chat["id"]) == []
    again = await client.get(f"/api/v1/chats/{chat['id']}", headers=owner.headers)
    assert again.status_code == 404
    assert (
        await client.delete(f"/api/v1/chats/{chat['id']}", headers=owner.headers)
    ).status_code == 404


# -- attached files and edited messages -------------------------------------------------------


async def test_attached_files_stay_with_the_chat_until_replaced(client, store):
    owner = await signup(client)
    attached = [
        {"type": "collection", "id": "k1", "name": "Handbook", "status": "processed"},
        {"type": "file", "id": "f1", "name": "notes.txt", "file": {"meta": {"size": 3}}},
        {"type": "file", "id": "f1", "name": "notes.txt"},
        # Open WebUI's other kinds of attachment are not searched here: dropped.
        {"type": "image", "url": "data:image/png;base64,AAAA"},
        {"type": "file", "id": "f2"},
    ]
    response = await client.post(
        "/api/v1/chats/new",
        json={"chat": {"title": "Grounded", "files": attached}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    chat = response.json()
    expected = [
        {"type": "collection", "id": "k1", "name": "Handbook"},
        {"type": "file", "id": "f1", "name": "notes.txt"},
        {"type": "file", "id": "f2", "name": "f2"},
    ]
    assert chat["chat"]["files"] == expected
    read = (await client.get(f"/api/v1/chats/{chat['id']}", headers=owner.headers)).json()
    assert read["chat"]["files"] == expected
    # A rename leaves them; a new list replaces them; an empty one removes them all.
    path = f"/api/v1/chats/{chat['id']}"
    renamed = await client.post(path, json={"chat": {"title": "Still"}}, headers=owner.headers)
    assert renamed.json()["chat"]["files"] == expected
    only_one = [{"type": "file", "id": "f2", "name": "later.txt"}]
    replaced = await client.post(path, json={"chat": {"files": only_one}}, headers=owner.headers)
    assert (replaced.json()["title"], replaced.json()["chat"]["files"]) == ("Still", only_one)
    emptied = await client.post(path, json={"chat": {"files": []}}, headers=owner.headers)
    assert emptied.json()["chat"]["files"] == []
    assert (await client.get(path, headers=owner.headers)).json()["chat"]["files"] == []
    # A chat made without any has none.
    assert (await new_chat(client, owner))["chat"]["files"] == []


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"type": "file", "id": ""}, "chat.files[0].id"),
        ({"type": "file", "id": "x" * 129}, "chat.files[0].id"),
        ({"type": "collection", "id": 5}, "chat.files[0].id"),
        ({"type": "file", "id": "f", "name": "a\x00b"}, "chat.files[0]"),
        ({"type": "file", "id": "f", "name": 7}, "chat.files[0].name"),
    ],
)
async def test_a_bad_attached_file_is_a_422_naming_it(client, entry, field):
    owner = await signup(client)
    chat = await new_chat(client, owner)
    response = await client.post(
        f"/api/v1/chats/{chat['id']}", json={"chat": {"files": [entry]}}, headers=owner.headers
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    too_many = [{"type": "file", "id": f"f{n}"} for n in range(101)]
    response = await client.post(
        f"/api/v1/chats/{chat['id']}", json={"chat": {"files": too_many}}, headers=owner.headers
    )
    assert response.status_code == 422, response.text


async def test_a_question_or_an_answer_is_edited_in_place(client, store):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    begun = await store.begin_turn(start(owner.id, chat_id, "what is two and two"))
    await store.finish(begun.assistant_message_id, TurnResult("complete", "five"))
    path = f"/api/v1/chats/{chat_id}/messages/{begun.assistant_message_id}"
    response = await client.post(path, json={"content": "four\n\n*four*"}, headers=owner.headers)
    assert response.status_code == 200, response.text
    messages = response.json()["chat"]["history"]["messages"]
    answer = messages[begun.assistant_message_id]
    assert (answer["content"], answer["status"], answer["role"]) == (
        "four\n\n*four*",
        "complete",
        "assistant",
    )
    question_path = f"/api/v1/chats/{chat_id}/messages/{begun.user_message_id}"
    edited = await client.post(question_path, json={"content": "2 + 2?"}, headers=owner.headers)
    assert edited.json()["chat"]["history"]["messages"][begun.user_message_id]["content"] == (
        "2 + 2?"
    )
    # The tree is unchanged: an edit is not a branch.
    read = (await client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers)).json()
    assert len(read["chat"]["history"]["messages"]) == 2
    assert read["chat"]["history"]["currentId"] == begun.assistant_message_id


async def test_editing_an_answer_still_being_written_is_a_409_and_a_stale_one_is_allowed(
    client, store
):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    begun = await store.begin_turn(start(owner.id, chat_id, "write slowly"))
    await store.checkpoint(begun.assistant_message_id, "so far", "")
    path = f"/api/v1/chats/{chat_id}/messages/{begun.assistant_message_id}"
    busy = await client.post(path, json={"content": "mine"}, headers=owner.headers)
    assert busy.status_code == 409, busy.text
    assert "still being written" in busy.json()["detail"]
    rows = await message_rows(chat_id)
    assert [r["content"] for r in rows if r["role"] == "assistant"] == ["so far"]
    long_ago = datetime.now(UTC) - timedelta(seconds=STALE_AFTER + 5)
    await set_times(begun.assistant_message_id, created_at=long_ago, checkpointed_at=long_ago)
    stale = await client.post(path, json={"content": "mine"}, headers=owner.headers)
    assert stale.status_code == 200, stale.text
    answer = stale.json()["chat"]["history"]["messages"][begun.assistant_message_id]
    assert (answer["content"], answer["status"]) == ("mine", "interrupted")


async def test_editing_a_missing_message_or_with_a_bad_body_changes_nothing(client, store):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    begun = await store.begin_turn(start(owner.id, chat_id, "hello"))
    missing = await client.post(
        f"/api/v1/chats/{chat_id}/messages/nope", json={"content": "x"}, headers=owner.headers
    )
    assert (missing.status_code, missing.json()) == (404, {"detail": "Message not found."})
    path = f"/api/v1/chats/{chat_id}/messages/{begun.user_message_id}"
    for body, field in (
        ({"content": "a\x00b"}, "content"),
        ({"content": 5}, "content"),
        ({}, "content"),
        ({"content": "x", "role": "system"}, "role"),
    ):
        response = await client.post(path, json=body, headers=owner.headers)
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"]
    rows = await message_rows(chat_id)
    assert [(r["role"], r["content"]) for r in rows] == [("user", "hello"), ("assistant", "")]


async def test_a_question_at_root_starts_a_second_branch_from_the_top(client, store):
    owner = await signup(client)
    chat_id = (await new_chat(client, owner))["id"]
    first = await store.begin_turn(start(owner.id, chat_id, "one"))
    await store.finish(first.assistant_message_id, TurnResult("complete", "a"))
    second = await store.begin_turn(start(owner.id, chat_id, "two"))
    await store.finish(second.assistant_message_id, TurnResult("complete", "b"))
    root = dataclasses.replace(start(owner.id, chat_id, "one, edited"), at_root=True)
    again = await store.begin_turn(root)
    body = (await client.get(f"/api/v1/chats/{chat_id}", headers=owner.headers)).json()["chat"]
    messages = body["history"]["messages"]
    assert messages[again.user_message_id]["parentId"] is None
    assert messages[again.assistant_message_id]["parentId"] == again.user_message_id
    assert body["history"]["currentId"] == again.assistant_message_id
    assert [m["content"] for m in body["messages"]] == ["one, edited", ""]


# -- ownership (security matrix row 1) ------------------------------------------------------

OWNER_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/chats/{id}", None),
    ("POST", "/api/v1/chats/{id}", {"chat": {"title": "taken over"}}),
    ("POST", "/api/v1/chats/{id}", {"chat": {}}),
    ("POST", "/api/v1/chats/{id}", {"chat": {"files": [{"type": "file", "id": "f"}]}}),
    ("POST", "/api/v1/chats/{id}/messages/{message}", {"content": "taken over"}),
    ("DELETE", "/api/v1/chats/{id}", None),
]


@pytest.mark.parametrize("who", ["another user", "an administrator"])
@pytest.mark.parametrize(("method", "path", "body"), OWNER_ROUTES)
async def test_someone_elses_chat_is_404_and_stays_unchanged(
    client, store, who, method, path, body
):
    admin, user_b = await admin_and_user(client)
    owner = await signup(client)
    await client.post(
        f"/api/v1/users/{owner.id}/update", json={"role": "user"}, headers=admin.headers
    )
    chat = await new_chat(client, owner, "A's secret")
    await store.begin_turn(start(owner.id, chat["id"], "private question"))
    before = (await client.get(f"/api/v1/chats/{chat['id']}", headers=owner.headers)).json()
    intruder = user_b if who == "another user" else admin
    message = before["chat"]["history"]["currentId"]

    response = await client.request(
        method, path.format(id=chat["id"], message=message), json=body, headers=intruder.headers
    )

    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Chat not found."}
    assert "secret" not in response.text
    after = (await client.get(f"/api/v1/chats/{chat['id']}", headers=owner.headers)).json()
    assert after == before
    listed = (await client.get("/api/v1/chats/", headers=intruder.headers)).json()
    assert chat["id"] not in {c["id"] for c in listed}


async def test_a_missing_chat_answers_exactly_like_someone_elses(client):
    owner = await signup(client)
    for method, path, body in OWNER_ROUTES:
        response = await client.request(
            method,
            path.format(id="0b8f2a4e-6c1d-4e5f-9a7b-3c2d1e0f9a8b", message="m1"),
            json=body,
            headers=owner.headers,
        )
        assert (response.status_code, response.json()) == (404, {"detail": "Chat not found."})


@pytest.mark.parametrize("chat_id", ["%00", "a%00b", "x" * 200, "%1b%5b31m"])
async def test_an_unprintable_or_oversized_id_names_no_chat(client, chat_id):
    owner = await signup(client)
    for method, path, body in OWNER_ROUTES:
        response = await client.request(
            method, path.format(id=chat_id, message="m1"), json=body, headers=owner.headers
        )
        assert response.status_code == 404, (method, chat_id, response.text)


# -- hostile input --------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["a\x00b", "\x1b[31mred", "two\nlines", "tab\there", "\x7f"])
async def test_control_characters_in_a_title_are_a_422_naming_it(client, title):
    owner = await signup(client)
    chat = await new_chat(client, owner, "fine")
    for path in ("/api/v1/chats/new", f"/api/v1/chats/{chat['id']}"):
        response = await client.post(path, json={"chat": {"title": title}}, headers=owner.headers)
        assert response.status_code == 422, response.text
        assert "chat.title" in response.json()["detail"]
        assert "control characters" in response.json()["detail"]
    listed = (await client.get("/api/v1/chats/", headers=owner.headers)).json()
    assert [c["title"] for c in listed] == ["fine"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chat": {"title": "x" * 1001}}, "title"),
        ({"chat": {"title": 5}}, "title"),
        ({"chat": "not an object"}, "chat"),
        ({}, "chat"),
        ({"chat": {}, "user_id": "someone"}, "user_id"),
        ({"chat": {}, "archived": True}, "archived"),
    ],
)
async def test_a_bad_body_is_a_422_naming_the_field(client, body, field):
    owner = await signup(client)
    response = await client.post("/api/v1/chats/new", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert (await client.get("/api/v1/chats/", headers=owner.headers)).json() == []


async def test_a_folder_id_names_no_folder(client):
    owner = await signup(client)
    response = await client.post(
        "/api/v1/chats/new", json={"chat": {}, "folder_id": "f1"}, headers=owner.headers
    )
    assert response.status_code == 404, response.text
    assert "Folder" in response.json()["detail"]
