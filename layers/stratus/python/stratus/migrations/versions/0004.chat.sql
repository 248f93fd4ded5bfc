-- Chats and their messages, a tree per chat so a regenerated answer branches.
-- depends: 0002.auth

CREATE TABLE chats (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    archived boolean NOT NULL DEFAULT false,
    pinned boolean NOT NULL DEFAULT false,
    meta jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The target of messages' (chat_id, user_id) key, which keeps their copy of the owner true.
    UNIQUE (id, user_id)
);
-- "My chats, newest first", and the ownership check (user_id, id) on every chat route.
CREATE INDEX chats_user_updated_idx ON chats (user_id, updated_at DESC, id);

CREATE TABLE messages (
    id text PRIMARY KEY,
    chat_id text NOT NULL,
    -- The chat's owner, copied so ownership checks and stops need no join; the composite key
    -- below makes a copy that disagrees with the chat impossible.
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NULL for the first message; otherwise a message of the same chat (composite key below).
    parent_id text,
    role text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content text NOT NULL DEFAULT '',
    -- The non-text parts of a user message (image data URIs), as sent.
    content_parts jsonb,
    reasoning text,
    tool_calls jsonb,
    model text,
    -- 'streaming' rows whose checkpoint went stale are read as 'interrupted' (no cron job).
    status text NOT NULL DEFAULT 'complete'
        CHECK (status IN ('streaming', 'complete', 'cancelled', 'error', 'interrupted')),
    error text,
    prompt_tokens integer,
    completion_tokens integer,
    task_id text UNIQUE,
    -- The client's own message id: the idempotency key of a turn, unique within a chat.
    client_id text,
    -- Retrieval citations; written by the rag function's turns.
    sources jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    checkpointed_at timestamptz,
    finished_at timestamptz,
    UNIQUE (chat_id, id),
    UNIQUE (chat_id, client_id),
    FOREIGN KEY (chat_id, user_id) REFERENCES chats (id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (chat_id, parent_id) REFERENCES messages (chat_id, id) ON DELETE CASCADE
);
-- Children of a message: the current-leaf lookup and the parent key's cascade use it.
CREATE INDEX messages_parent_idx ON messages (chat_id, parent_id);
-- Deleting a user cascades here directly as well as through chats; without this index that
-- cascade would scan the whole table once per deleted user.
CREATE INDEX messages_user_idx ON messages (user_id);
-- "The running generations of a chat" (stop by chat): only unfinished rows are indexed.
CREATE INDEX messages_streaming_idx ON messages (chat_id) WHERE status = 'streaming';
