-- The files and collections attached to a chat, searched for each of its messages until removed.
-- depends: 0004.chat

-- As Open WebUI keeps `files` on its chat: [{"type": "file"|"collection", "id", "name"}].
ALTER TABLE chats ADD COLUMN files jsonb NOT NULL DEFAULT '[]'::jsonb;
