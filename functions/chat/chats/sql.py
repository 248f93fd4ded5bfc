"""The statements of ``ChatsStore``. Each is one statement, run as its own transaction.

``BEGIN_TURN``, read top to bottom:

- ``existing``: the assistant message an earlier request with the same client id created.
- ``chat``: the ownership check, and the chat row's lock. Every turn of a chat takes this row
  lock before it inserts anything, so concurrent turns of one chat queue on it and all take
  their locks in one order (no deadlock between a retry holding the chat row and another
  holding a unique-index entry). It bumps ``updated_at`` ("newest first"), never backwards,
  and not for a replay.
- ``named`` / ``leaf``: where the turn attaches. The named parent must be in this chat; with
  none named, the current leaf: the newest message that has no children; with ``at_root``,
  nothing (the question starts a new branch at the top).
- ``anchor``: one row when everything checks out and the turn is new.
- ``assistant``: inserted first; ``ON CONFLICT`` lets the unique (chat_id, client_id) index
  decide a race between retries. ``question`` (the user message) reads from it, so when the
  assistant row loses the race no user message is written either.

The final row reports what happened; foreign keys are checked at the end of the statement,
so the assistant may name the user message inserted after it as its parent.
"""

from __future__ import annotations

CHAT_COLUMNS = (
    "c.id, c.user_id, c.title, c.created_at, c.updated_at, c.archived, c.pinned, c.meta, c.files"
)
CHAT_WIDTH = 9
MESSAGE_COLUMNS = (
    "m.id, m.chat_id, m.user_id, m.parent_id, m.role, m.content, m.content_parts, m.reasoning, "
    "m.tool_calls, m.model, m.status, m.error, m.prompt_tokens, m.completion_tokens, m.task_id, "
    "m.client_id, m.sources, m.created_at, m.updated_at, m.checkpointed_at, m.finished_at, "
    "m.usage_estimated"
)
# Oldest first. A turn writes its question and answer in one statement, so they share a
# timestamp; the question (the answer's parent) sorts first.
MESSAGE_ORDER = "m.created_at, m.role = 'assistant', m.id"

# S608: what is interpolated below is the constant column lists above, never input.
INSERT_CHAT = (
    "INSERT INTO chats AS c (id, user_id, title, files) VALUES (%s, %s, %s, %s::jsonb) "  # noqa: S608
    f"RETURNING {CHAT_COLUMNS}"
)
CHAT_WITH_MESSAGES = (
    f"SELECT {CHAT_COLUMNS}, {MESSAGE_COLUMNS} FROM chats c "  # noqa: S608
    "LEFT JOIN messages m ON m.chat_id = c.id "
    "WHERE c.id = %(chat_id)s AND (%(any)s OR c.user_id = %(user_id)s) "
    f"ORDER BY {MESSAGE_ORDER}"
)
# A field left NULL keeps its value.
UPDATE_CHAT = (
    "WITH c AS (UPDATE chats SET title = coalesce(%(title)s, title), "  # noqa: S608
    "files = coalesce(%(files)s::jsonb, files), updated_at = now() "
    "WHERE id = %(chat_id)s AND user_id = %(user_id)s "
    "RETURNING id, user_id, title, created_at, updated_at, archived, pinned, meta, files) "
    f"SELECT {CHAT_COLUMNS}, {MESSAGE_COLUMNS} FROM c "
    f"LEFT JOIN messages m ON m.chat_id = c.id ORDER BY {MESSAGE_ORDER}"
)
# Open WebUI's sidebar list leaves out archived chats, and pinned ones unless asked.
LIST_CHATS = (
    "SELECT id, title, updated_at, created_at FROM chats "
    "WHERE user_id = %(user_id)s AND NOT archived AND (%(pinned)s OR NOT pinned) "
    "ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s"
)
DELETE_CHAT = "DELETE FROM chats WHERE id = %s AND user_id = %s"

# A message already finished is left as it is: a late checkpoint or a second finish (a stop
# racing the end) changes nothing.
CHECKPOINT = (
    "UPDATE messages SET content = %s, reasoning = nullif(%s, ''), "
    "checkpointed_at = now(), updated_at = now() "
    "WHERE id = %s AND status = 'streaming'"
)
FINISH = (
    "UPDATE messages SET content = %(content)s, reasoning = nullif(%(reasoning)s, ''), "
    "tool_calls = %(tool_calls)s::jsonb, status = %(status)s, error = %(error)s, "
    "prompt_tokens = %(prompt)s, completion_tokens = %(completion)s, "
    "usage_estimated = %(estimated)s, "
    "sources = %(sources)s::jsonb, finished_at = now(), checkpointed_at = now(), "
    "updated_at = now() "
    "WHERE id = %(id)s AND status = 'streaming'"
)
TASK_OWNER = (
    "SELECT user_id, chat_id, id, status, created_at, checkpointed_at "
    "FROM messages WHERE task_id = %s"
)
STREAMING_TASKS = (
    "SELECT task_id FROM messages "
    "WHERE chat_id = %(chat_id)s AND status = 'streaming' AND task_id IS NOT NULL "
    "AND (%(user_id)s::text IS NULL OR user_id = %(user_id)s) "
    "AND coalesce(checkpointed_at, created_at) >= %(fresh)s "
    "ORDER BY created_at, id"
)

BEGIN_TURN = """
WITH existing AS (
    SELECT id, parent_id, role, status, content, reasoning, model, error, task_id,
           prompt_tokens, completion_tokens, created_at, checkpointed_at
    FROM messages
    WHERE chat_id = %(chat_id)s AND user_id = %(user_id)s
      AND client_id = %(assistant_client_id)s
),
chat AS (
    UPDATE chats
    SET updated_at = CASE WHEN EXISTS (SELECT 1 FROM existing) THEN updated_at
                          ELSE greatest(updated_at, now()) END
    WHERE id = %(chat_id)s AND user_id = %(user_id)s
    RETURNING id
),
named AS (
    SELECT id, role FROM messages
    WHERE chat_id = %(chat_id)s AND id = %(parent_id)s
),
leaf AS (
    SELECT m.id FROM messages m
    WHERE m.chat_id = %(chat_id)s AND %(parent_id)s::text IS NULL AND NOT %(at_root)s
      AND NOT EXISTS (
          SELECT 1 FROM messages c WHERE c.chat_id = m.chat_id AND c.parent_id = m.id
      )
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT 1
),
anchor AS (
    SELECT chat.id AS chat_id,
           coalesce((SELECT id FROM named), (SELECT id FROM leaf)) AS parent_id
    FROM chat
    WHERE NOT EXISTS (SELECT 1 FROM existing)
      AND (%(parent_id)s::text IS NULL
           OR EXISTS (SELECT 1 FROM named WHERE NOT %(regenerate)s OR role = 'user'))
),
assistant AS (
    INSERT INTO messages (id, chat_id, user_id, parent_id, role, model, status, task_id,
                          client_id, checkpointed_at)
    SELECT %(assistant_id)s, anchor.chat_id, %(user_id)s,
           CASE WHEN %(regenerate)s THEN anchor.parent_id ELSE %(user_message_id)s END,
           'assistant', %(model)s, 'streaming', %(task_id)s, %(assistant_client_id)s, now()
    FROM anchor
    ON CONFLICT (chat_id, client_id) DO NOTHING
    RETURNING id
),
question AS (
    INSERT INTO messages (id, chat_id, user_id, parent_id, role, content, content_parts,
                          model, client_id)
    SELECT %(user_message_id)s, anchor.chat_id, %(user_id)s, anchor.parent_id, 'user',
           %(content)s, %(content_parts)s::jsonb, %(model)s, %(user_client_id)s
    FROM anchor, assistant
    WHERE NOT %(regenerate)s
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM chat) AS owned,
       (SELECT role FROM named) AS parent_role,
       (SELECT id FROM assistant) AS assistant_id,
       (SELECT id FROM question) AS question_id,
       e.id, e.parent_id, e.role, e.status, e.content, e.reasoning, e.model, e.error,
       e.task_id, e.prompt_tokens, e.completion_tokens, e.created_at, e.checkpointed_at
FROM (SELECT 1) AS one LEFT JOIN existing e ON true
"""

# After losing a race the statement's snapshot predates the winner; a new statement sees it.
EXISTING_TURN = """
SELECT id, parent_id, role, status, content, reasoning, model, error, task_id,
       prompt_tokens, completion_tokens, created_at, checkpointed_at
FROM messages
WHERE chat_id = %(chat_id)s AND user_id = %(user_id)s AND client_id = %(assistant_client_id)s
"""

# A turn refused before it streamed (rate limits) leaves nothing: its answer, and its question
# unless something else already hangs under it. Both rows go in one statement.
DISCARD_TURN = """
WITH answer AS (
    DELETE FROM messages
    WHERE id = %(answer)s AND user_id = %(user_id)s AND status = 'streaming'
    RETURNING id
)
DELETE FROM messages q
WHERE q.id = %(question)s AND q.user_id = %(user_id)s AND q.role = 'user'
  AND EXISTS (SELECT 1 FROM answer)
  AND NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = q.id AND c.id <> %(answer)s)
"""

# Before a turn is recorded, in one indexed read: is the chat the caller's (a row, or none),
# the role of the message it hangs under (``parent_id``), and has the turn's ``id`` been seen.
TURN_CHECK = """
SELECT (SELECT role FROM messages
        WHERE id = %(parent_id)s AND chat_id = %(chat_id)s AND user_id = %(user_id)s),
       EXISTS (SELECT 1 FROM messages
               WHERE chat_id = %(chat_id)s AND user_id = %(user_id)s
                 AND client_id = %(client_id)s)
FROM chats WHERE id = %(chat_id)s AND user_id = %(user_id)s
"""

# A person's edit of one message's text (Open WebUI's "edit" on a question or an answer). An
# answer still being written is left alone: its writer would overwrite the edit. Reports
# whether the chat is the caller's, whether the message is in it and whether it was changed.
EDIT_MESSAGE = """
WITH chat AS (
    SELECT 1 FROM chats WHERE id = %(chat_id)s AND user_id = %(user_id)s
),
target AS (
    SELECT id, status = 'streaming' AND coalesce(checkpointed_at, created_at) >= %(fresh)s
           AS writing
    FROM messages
    WHERE id = %(message_id)s AND chat_id = %(chat_id)s AND user_id = %(user_id)s
),
edited AS (
    UPDATE messages m SET content = %(content)s, updated_at = now()
    FROM target t
    WHERE m.id = t.id AND NOT t.writing
    RETURNING m.id
)
SELECT EXISTS (SELECT 1 FROM chat), EXISTS (SELECT 1 FROM target),
       EXISTS (SELECT 1 FROM edited)
"""

CHAT_OWNER = (
    "SELECT user_id FROM chats WHERE id = %(chat_id)s AND (user_id = %(user_id)s OR %(any)s)"
)
