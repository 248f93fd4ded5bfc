-- Files, knowledge collections and the chunks retrieval searches (the rag function).
-- depends: 0002.auth

-- Every row a user owns cascades from users(id), like the auth tables (a test checks the rule).
-- Stored objects are removed by the deletion path's object-storage cleanup (stratus.retrieval).
CREATE TABLE files (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The client's file name: metadata only, never part of a storage key or a path.
    filename text NOT NULL,
    -- Server-generated; unique so that an S3 event finds exactly one file.
    storage_key text NOT NULL UNIQUE,
    -- What the content is (magic bytes), not what the name claims: pdf, docx, html, csv...
    kind text,
    content_type text,
    size bigint,
    sha256 text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    -- Why the last attempt failed, in words a user can act on.
    error text,
    attempts integer NOT NULL DEFAULT 0,
    -- Fencing for idempotent ingestion: only the holder of the current claim may write chunks
    -- or change the status, so a retry never races a stale worker into two sets of chunks.
    claim_token text,
    claimed_at timestamptz,
    chunk_count integer NOT NULL DEFAULT 0,
    embedding_model text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_user_idx ON files (user_id, created_at DESC, id);

CREATE TABLE knowledge (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_user_idx ON knowledge (user_id, updated_at DESC, id);

-- A collection refers to files; it holds no chunks of its own, so adding a file embeds nothing.
CREATE TABLE knowledge_files (
    knowledge_id text NOT NULL REFERENCES knowledge (id) ON DELETE CASCADE,
    file_id text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (knowledge_id, file_id)
);
CREATE INDEX knowledge_files_file_idx ON knowledge_files (file_id);

-- One row per chunk. Written only by the transaction that marks the file ready, so a file's
-- chunks exist exactly when it is ready, and (file_id, position) makes a second set impossible.
CREATE TABLE chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_id text NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    -- The file's owner, copied here so the retrieval SQL filters on it without a join.
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position integer NOT NULL,
    text text NOT NULL,
    -- Any size: each chunk records the model and size that made it, and every search is
    -- restricted to the configured pair, so vectors of two models are never compared.
    embedding vector NOT NULL,
    embedding_model text NOT NULL,
    dimensions integer NOT NULL CHECK (dimensions = vector_dims(embedding)),
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (file_id, position)
);
CREATE INDEX chunks_user_idx ON chunks (user_id);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
-- HNSW (cosine) per common embedding size. An index needs a fixed size, so each is an
-- expression index over the rows of that size; searches name the same expression. Other sizes
-- still work, by exact scan (stratus.retrieval.plan).
CREATE INDEX chunks_hnsw_384 ON chunks USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE dimensions = 384;
CREATE INDEX chunks_hnsw_768 ON chunks USING hnsw ((embedding::vector(768)) vector_cosine_ops)
    WHERE dimensions = 768;
CREATE INDEX chunks_hnsw_1024 ON chunks USING hnsw ((embedding::vector(1024)) vector_cosine_ops)
    WHERE dimensions = 1024;
CREATE INDEX chunks_hnsw_1536 ON chunks USING hnsw ((embedding::vector(1536)) vector_cosine_ops)
    WHERE dimensions = 1536;
