"""The chats store against real Postgres: CRUD, the turn lifecycle, branching, races, staleness."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from functions.chat.chats.records import NewUserMessage, TurnResult, TurnStart
from functions.chat.chats.store import ChatsStore
from stratus.auth.deletion import delete_user
from stratus.db import close_pool, connection, get_pool
from stratus.errors import ConflictError, NotFoundError, ValidationError
from tests.support.chats import chat_updated_at, insert_user, message_rows, set_times
from tests.support.pgtrace import traced_pool

pytestmark = pytest.mark.anyio

STALE_AFTER = 30.0


@pytest.fixture
async def store(env: dict[str, str]) -> AsyncIterator[ChatsStore]:
    yield ChatsStore(stale_after=STALE_AFTER)
    await close_pool()


def turn(
    user_id: str,
    chat_id: str,
    text: str = "hello",
    *,
    assistant_client_id: str | None = None,
    question: NewUserMessage | None = None,
    regenerate: bool = False,
    parent_id: str | None = None,
) -> TurnStart:
    return TurnStart(
        user_id=user_id,
        chat_id=chat_id,
        model="llama3.2",
        task_id=str(uuid.uuid4()),
        assistant_client_id=assistant_client_id,
        user_message=None if regenerate else (question or NewUserMessage(text)),
        parent_id=parent_id,
    )


# -- chats ----------------------------------------------------------------------------------


async def test_create_get_rename_delete(store):
    owner = await insert_user()
    chat = await store.create(owner, "First")
    assert (chat.user_id, chat.title, chat.archived, chat.pinned, chat.meta) == (
        owner,
        "First",
        False,
        False,
        {},
    )
    found = await store.get(chat.id, owner)
    assert found is not None
    assert found[0] == chat
    assert found[1] == []

    renamed = await store.update(chat.id, owner, title="Second")
    assert renamed is not None
    assert renamed[0].title == "Second"
    assert renamed[0].updated_at > chat.updated_at

    assert await store.delete(chat.id, owner) is True
    assert await store.get(chat.id, owner) is None
    assert await store.delete(chat.id, owner) is False


async def test_someone_elses_chat_reads_as_missing(store):
    owner, other = await insert_user("a"), await insert_user("b")
    chat = await store.create(owner, "Private")
    await store.begin_turn(turn(owner, chat.id))

    assert await store.get(chat.id, other) is None
    assert await store.messages(chat.id, other) == []
    assert await store.update(chat.id, other, title="Mine now") is None
    assert await store.delete(chat.id, other) is False
    assert await store.list_chats(other, limit=None) == []
    # ... and nothing changed for the owner.
    found = await store.get(chat.id, owner)
    assert found is not None
    assert found[0].title == "Private"
    assert len(found[1]) == 2
    # The explicit administrator read is the only way across.
    as_admin = await store.get(chat.id, other, as_admin=True)
    assert as_admin is not None
    assert as_admin[0].id == chat.id


async def test_list_is_newest_first_and_pages(store):
    owner = await insert_user()
    chats = [await store.create(owner, f"chat {i}") for i in range(5)]
    # A turn moves an older chat to the top.
    await store.begin_turn(turn(owner, chats[1].id))
    expected = [chats[1].id, chats[4].id, chats[3].id, chats[2].id, chats[0].id]

    everything = await store.list_chats(owner, limit=None)
    assert [c.id for c in everything] == expected
    first = await store.list_chats(owner, limit=2, offset=0)
    second = await store.list_chats(owner, limit=2, offset=2)
    third = await store.list_chats(owner, limit=2, offset=4)
    assert [c.id for c in first + second + third] == expected
    assert len(third) == 1


async def test_list_leaves_out_archived_and_pinned_like_open_webui(store):
    owner = await insert_user()
    plain, pinned, archived = [await store.create(owner, t) for t in ("p", "pin", "arch")]
    async with connection() as conn:
        await conn.execute("UPDATE chats SET pinned = true WHERE id = %s", (pinned.id,))
        await conn.execute("UPDATE chats SET archived = true WHERE id = %s", (archived.id,))
    assert [c.id for c in await store.list_chats(owner, limit=None)] == [plain.id]
    with_pinned = await store.list_chats(owner, limit=None, include_pinned=True)
    assert {c.id for c in with_pinned} == {plain.id, pinned.id}


async def test_deleting_a_chat_deletes_its_messages(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    first = await store.begin_turn(turn(owner, chat.id))
    await store.begin_turn(turn(owner, chat.id, regenerate=True, parent_id=first.user_message_id))
    assert len(await message_rows(chat.id)) == 3
    assert await store.delete(chat.id, owner)
    assert await message_rows(chat.id) == []


async def test_deleting_the_user_deletes_their_chats_and_messages(store):
    owner, other = await insert_user("gone"), await insert_user("stays")
    chat = await store.create(owner, "t")
    await store.begin_turn(turn(owner, chat.id))
    kept = await store.create(other, "k")
    await store.begin_turn(turn(other, kept.id))

    assert await delete_user(owner)
    async with connection() as conn:
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM chats WHERE user_id = %(u)s), "
            "(SELECT count(*) FROM messages WHERE user_id = %(u)s)",
            {"u": owner},
        )
        assert await cursor.fetchone() == (0, 0)
    assert len(await message_rows(kept.id)) == 2


# -- turns ----------------------------------------------------------------------------------


async def test_a_turn_writes_the_question_and_a_streaming_answer(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    before = await chat_updated_at(chat.id)
    start = turn(owner, chat.id, "2+2?", assistant_client_id="resp-1")
    begun = await store.begin_turn(start)

    assert begun.existing is None
    assert begun.task_id == start.task_id
    rows = await message_rows(chat.id)
    assert [(r["id"], r["parent_id"], r["role"], r["status"]) for r in rows] == [
        (begun.user_message_id, None, "user", "complete"),
        (begun.assistant_message_id, begun.user_message_id, "assistant", "streaming"),
    ]
    assert rows[0]["content"] == "2+2?"
    assert rows[1]["task_id"] == start.task_id
    assert rows[1]["client_id"] == "resp-1"
    assert await chat_updated_at(chat.id) > before


async def test_a_new_turn_attaches_under_the_current_leaf(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    first = await store.begin_turn(turn(owner, chat.id, "one"))
    second = await store.begin_turn(turn(owner, chat.id, "two"))
    rows = {r["id"]: r for r in await message_rows(chat.id)}
    assert rows[second.user_message_id]["parent_id"] == first.assistant_message_id
    assert rows[second.assistant_message_id]["parent_id"] == second.user_message_id


async def test_a_named_parent_starts_a_branch(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    first = await store.begin_turn(turn(owner, chat.id, "one"))
    await store.begin_turn(turn(owner, chat.id, "two"))
    # An edited second question: a sibling of "two", under the first answer.
    edited = await store.begin_turn(
        turn(owner, chat.id, "two, edited", parent_id=first.assistant_message_id)
    )
    rows = {r["id"]: r for r in await message_rows(chat.id)}
    assert rows[edited.user_message_id]["parent_id"] == first.assistant_message_id
    # The newest branch is now the current one: the next turn follows it.
    after = await store.begin_turn(turn(owner, chat.id, "three"))
    rows = {r["id"]: r for r in await message_rows(chat.id)}
    assert rows[after.user_message_id]["parent_id"] == edited.assistant_message_id


async def test_regenerate_adds_a_sibling_answer(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    first = await store.begin_turn(turn(owner, chat.id, "one"))
    again = await store.begin_turn(
        turn(owner, chat.id, regenerate=True, parent_id=first.user_message_id)
    )
    assert again.user_message_id is None
    rows = await message_rows(chat.id)
    assert len(rows) == 3
    answers = [r for r in rows if r["role"] == "assistant"]
    assert {r["parent_id"] for r in answers} == {first.user_message_id}
    # The regenerated answer is the current leaf.
    follow = await store.begin_turn(turn(owner, chat.id, "next"))
    by_id = {r["id"]: r for r in await message_rows(chat.id)}
    assert by_id[follow.user_message_id]["parent_id"] == again.assistant_message_id


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("no parent", ValidationError),
        ("assistant parent", ValidationError),
        ("unknown parent", NotFoundError),
        ("other chat's message", NotFoundError),
    ],
)
async def test_regenerate_needs_a_user_message_of_this_chat(store, case, error):
    owner = await insert_user()
    chat, other_chat = await store.create(owner, "t"), await store.create(owner, "u")
    first = await store.begin_turn(turn(owner, chat.id))
    elsewhere = await store.begin_turn(turn(owner, other_chat.id))
    parent = {
        "no parent": None,
        "assistant parent": first.assistant_message_id,
        "unknown parent": str(uuid.uuid4()),
        "other chat's message": elsewhere.user_message_id,
    }[case]
    with pytest.raises(error) as raised:
        await store.begin_turn(turn(owner, chat.id, regenerate=True, parent_id=parent))
    assert raised.value.param == "parent_id"
    assert len(await message_rows(chat.id)) == 2


async def test_a_new_turn_under_a_parent_from_another_chat_is_refused(store):
    owner = await insert_user()
    chat, other_chat = await store.create(owner, "t"), await store.create(owner, "u")
    elsewhere = await store.begin_turn(turn(owner, other_chat.id))
    with pytest.raises(NotFoundError):
        await store.begin_turn(turn(owner, chat.id, parent_id=elsewhere.assistant_message_id))
    assert await message_rows(chat.id) == []


async def test_a_turn_in_someone_elses_chat_is_not_found_and_writes_nothing(store):
    owner, intruder = await insert_user("a"), await insert_user("b")
    chat = await store.create(owner, "t")
    before = await chat_updated_at(chat.id)
    with pytest.raises(NotFoundError):
        await store.begin_turn(turn(intruder, chat.id, assistant_client_id="x"))
    with pytest.raises(NotFoundError):
        await store.begin_turn(turn(owner, str(uuid.uuid4())))
    assert await message_rows(chat.id) == []
    assert await chat_updated_at(chat.id) == before


async def test_a_repeated_client_id_replays_the_first_turn(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    first = await store.begin_turn(turn(owner, chat.id, assistant_client_id="resp-1"))
    await store.finish(
        first.assistant_message_id,
        TurnResult("complete", "4", prompt_tokens=7, completion_tokens=1),
    )
    before = await chat_updated_at(chat.id)

    again = await store.begin_turn(turn(owner, chat.id, assistant_client_id="resp-1"))
    assert again.existing is not None
    assert again.assistant_message_id == first.assistant_message_id
    assert again.user_message_id == first.user_message_id
    assert again.task_id == first.task_id
    assert (again.existing.status, again.existing.content) == ("complete", "4")
    assert again.existing.usage == {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}
    assert len(await message_rows(chat.id)) == 2
    assert await chat_updated_at(chat.id) == before


async def test_the_same_client_id_in_another_chat_is_a_new_turn(store):
    owner = await insert_user()
    chat, other_chat = await store.create(owner, "t"), await store.create(owner, "u")
    await store.begin_turn(turn(owner, chat.id, assistant_client_id="resp-1"))
    other = await store.begin_turn(turn(owner, other_chat.id, assistant_client_id="resp-1"))
    assert other.existing is None


async def test_a_reused_user_message_id_is_a_conflict(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    await store.begin_turn(turn(owner, chat.id, question=NewUserMessage("a", None, "u-1")))
    with pytest.raises(ConflictError):
        await store.begin_turn(turn(owner, chat.id, question=NewUserMessage("b", None, "u-1")))
    # An answer's client id naming a user message is refused as well.
    with pytest.raises(ConflictError):
        await store.begin_turn(turn(owner, chat.id, assistant_client_id="u-1"))
    assert len(await message_rows(chat.id)) == 2


async def _grow_pool(size: int) -> None:
    """Open ``size`` pooled connections, so concurrent calls each get their own at once."""

    async def hold() -> None:
        async with connection() as conn:
            await conn.execute("SELECT pg_sleep(0.2)")

    await asyncio.gather(*(hold() for _ in range(size)))
    assert (await get_pool()).get_stats()["pool_size"] >= size


async def test_concurrent_retries_make_one_question_and_one_answer(store):
    owner = await insert_user()
    await _grow_pool(5)
    for attempt in range(10):
        chat = await store.create(owner, f"race {attempt}")
        starts = [
            turn(owner, chat.id, "same question", assistant_client_id=f"resp-{attempt}")
            for _ in range(5)
        ]
        # Each call checks out its own pooled connection: the statements really overlap.
        results = await asyncio.gather(*(store.begin_turn(start) for start in starts))
        winners = [r for r in results if r.existing is None]
        assert len(winners) == 1, attempt
        winner = winners[0]
        assert {r.assistant_message_id for r in results} == {winner.assistant_message_id}
        assert {r.task_id for r in results} == {winner.task_id}
        rows = await message_rows(chat.id)
        assert sorted(r["role"] for r in rows) == ["assistant", "user"], attempt


async def test_concurrent_turns_without_an_answer_id_share_no_user_message_id(store):
    owner = await insert_user()
    await _grow_pool(4)
    for attempt in range(5):
        chat = await store.create(owner, f"race {attempt}")
        starts = [
            turn(owner, chat.id, question=NewUserMessage("q", None, f"user-{attempt}"))
            for _ in range(4)
        ]
        results = await asyncio.gather(
            *(store.begin_turn(start) for start in starts), return_exceptions=True
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1, results
        assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
        assert len(await message_rows(chat.id)) == 2


async def test_begin_turn_is_one_round_trip(store, monkeypatch):
    # GIVEN one pooled connection whose libpq protocol traffic is traced
    owner = await insert_user()
    chat = await store.create(owner, "t")
    async with traced_pool(monkeypatch) as sent:
        # WHEN a turn begins
        await store.begin_turn(turn(owner, chat.id, assistant_client_id="r"))
    # THEN the client sent one statement and one Sync, and no BEGIN or COMMIT
    assert sent.messages.count("Sync") == 1, sent.text
    assert sent.messages.count("Parse") == 1, sent.text
    assert "BEGIN" not in sent.text
    assert "COMMIT" not in sent.text


# -- checkpoints, finishing, staleness ------------------------------------------------------


async def test_checkpoint_then_finish(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    begun = await store.begin_turn(turn(owner, chat.id))

    await store.checkpoint(begun.assistant_message_id, "par", "thinking")
    (_, answer) = (await store.get(chat.id, owner))[1]
    assert (answer.content, answer.reasoning, answer.status) == ("par", "thinking", "streaming")
    assert answer.checkpointed_at is not None

    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    await store.finish(
        begun.assistant_message_id,
        TurnResult(
            "complete",
            "partial answer",
            reasoning="thought",
            tool_calls=calls,
            prompt_tokens=3,
            completion_tokens=5,
            sources=[{"source": {"id": "f1"}}],
        ),
    )
    (_, answer) = (await store.get(chat.id, owner))[1]
    assert answer.status == "complete"
    assert (answer.content, answer.reasoning) == ("partial answer", "thought")
    assert answer.tool_calls == calls
    assert answer.sources == [{"source": {"id": "f1"}}]
    assert (answer.prompt_tokens, answer.completion_tokens) == (3, 5)
    assert answer.finished_at is not None

    # Late writers change nothing once the message is final.
    await store.checkpoint(begun.assistant_message_id, "late", "")
    await store.finish(begun.assistant_message_id, TurnResult("cancelled", "other"))
    (_, answer) = (await store.get(chat.id, owner))[1]
    assert (answer.status, answer.content) == ("complete", "partial answer")


async def test_finish_records_errors_and_nul_bytes_from_the_model(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    begun = await store.begin_turn(turn(owner, chat.id))
    await store.checkpoint(begun.assistant_message_id, "a\x00b", "")
    await store.finish(
        begun.assistant_message_id,
        TurnResult(
            "error",
            "so far\x00",
            error="The model host reset the stream.",
            tool_calls=[{"function": {"name": "n\x00"}}],
        ),
    )
    (_, answer) = (await store.get(chat.id, owner))[1]
    assert answer.status == "error"
    assert answer.content == "so far\ufffd"
    assert answer.error == "The model host reset the stream."
    assert answer.tool_calls == [{"function": {"name": "n\ufffd"}}]


def test_a_turn_result_must_be_final():
    with pytest.raises(ValueError, match="status"):
        TurnResult("streaming", "")  # type: ignore[arg-type]


async def test_a_stale_streaming_message_reads_as_interrupted(store):
    owner, other = await insert_user("a"), await insert_user("b")
    chat = await store.create(owner, "t")
    stale = await store.begin_turn(turn(owner, chat.id, "one"))
    live = await store.begin_turn(turn(owner, chat.id, "two"))
    long_ago = datetime.now(UTC) - timedelta(seconds=STALE_AFTER + 5)
    await set_times(stale.assistant_message_id, created_at=long_ago, checkpointed_at=long_ago)

    messages = {m.id: m for m in (await store.get(chat.id, owner))[1]}
    assert messages[stale.assistant_message_id].status == "interrupted"
    assert messages[live.assistant_message_id].status == "streaming"
    assert [r["status"] for r in await message_rows(chat.id)].count("streaming") == 2

    stale_ref = await store.task_owner(stale.task_id)
    assert stale_ref is not None
    assert (stale_ref.user_id, stale_ref.chat_id, stale_ref.status) == (
        owner,
        chat.id,
        "interrupted",
    )
    live_ref = await store.task_owner(live.task_id)
    assert live_ref is not None
    assert live_ref.status == "streaming"
    assert live_ref.message_id == live.assistant_message_id
    assert await store.task_owner(str(uuid.uuid4())) is None

    assert await store.streaming_task_ids(owner, chat.id) == [live.task_id]
    assert await store.streaming_task_ids(None, chat.id) == [live.task_id]
    assert await store.streaming_task_ids(other, chat.id) == []


async def test_a_recent_checkpoint_keeps_an_old_message_streaming(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    begun = await store.begin_turn(turn(owner, chat.id))
    long_ago = datetime.now(UTC) - timedelta(seconds=STALE_AFTER * 10)
    await set_times(begun.assistant_message_id, created_at=long_ago, checkpointed_at=None)
    assert (await store.task_owner(begun.task_id)).status == "interrupted"
    await store.checkpoint(begun.assistant_message_id, "still here", "")
    assert (await store.task_owner(begun.task_id)).status == "streaming"


async def test_a_late_finish_still_lands_on_an_interrupted_message(store):
    owner = await insert_user()
    chat = await store.create(owner, "t")
    begun = await store.begin_turn(turn(owner, chat.id, assistant_client_id="r"))
    long_ago = datetime.now(UTC) - timedelta(seconds=STALE_AFTER + 5)
    await set_times(begun.assistant_message_id, created_at=long_ago, checkpointed_at=long_ago)
    replay = await store.begin_turn(turn(owner, chat.id, assistant_client_id="r"))
    assert replay.existing is not None
    assert replay.existing.status == "interrupted"
    await store.finish(begun.assistant_message_id, TurnResult("complete", "done"))
    assert (await store.task_owner(begun.task_id)).status == "complete"
