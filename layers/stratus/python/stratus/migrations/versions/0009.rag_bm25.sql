-- Full-text ranking with BM25 (stratus.retrieval.lexical): an inverted index of the chunks'
-- lexemes, and the collection statistics BM25 needs (how many chunks hold each lexeme, how many
-- chunks and lexeme occurrences there are in all), kept by triggers on every write to chunks.
-- depends: 0005.rag

-- One row: the text search configuration the lexemes were made with, and the totals.
-- Statistics are global (over every user's chunks), as search engines keep them: per-user
-- statistics would leak nothing useful and cost a row per user and lexeme.
CREATE TABLE rag_text_index (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    config regconfig NOT NULL DEFAULT 'english',
    chunks bigint NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0
);
INSERT INTO rag_text_index DEFAULT VALUES;

-- Document frequency: how many chunks hold each lexeme.
CREATE TABLE rag_lexemes (
    lexeme text PRIMARY KEY,
    chunks bigint NOT NULL
);

-- One row per (lexeme, chunk): the postings a query's terms read. The index holds everything a
-- query needs (an index-only scan per term), keyed by the owner so that a search reads only
-- the postings of chunks its caller may see; file_id is then checked against the visible files.
CREATE TABLE chunk_terms (
    lexeme text NOT NULL,
    -- Like every row a user owns, it goes with the user (the chunks' trigger removes it too).
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chunk_id bigint NOT NULL,
    file_id text NOT NULL,
    -- Occurrences of the lexeme in the chunk, and the chunk's length in lexeme occurrences.
    tf integer NOT NULL,
    length integer NOT NULL
);
CREATE INDEX chunk_terms_lookup ON chunk_terms (lexeme, user_id, chunk_id)
    INCLUDE (file_id, tf, length);

-- The lexemes live in chunk_terms now, made with rag_text_index.config (a setting,
-- STRATUS_RAG_TEXT_SEARCH_CONFIG), so the fixed-'english' tsvector and its GIN index go: they
-- would cost a second copy of every chunk's lexemes, and rewriting them on a change of
-- configuration would rewrite every chunk row (and its HNSW entry) too.
DROP INDEX chunks_tsv_idx;
ALTER TABLE chunks DROP COLUMN tsv;

-- Every writer of chunks takes the statistics row first, so ingests and deletions apply their
-- counts one after another (no lost update, no deadlock over lexeme rows), and a change of
-- configuration never interleaves with them.
CREATE FUNCTION rag_text_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM rag_text_index FOR UPDATE;
    RETURN NULL;
END $$;

-- A chunk's postings: each lexeme with its count, and the chunk's length (all the counts).
CREATE FUNCTION rag_chunk_terms(config regconfig, body text)
RETURNS TABLE (lexeme text, tf integer, length integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT t.lexeme, t.tf, (sum(t.tf) OVER ())::integer
    FROM (
        SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
        FROM unnest(to_tsvector(config, body)) AS u
    ) t
$$;

CREATE FUNCTION rag_text_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH postings AS (
        INSERT INTO chunk_terms (lexeme, user_id, chunk_id, file_id, tf, length)
        SELECT t.lexeme, a.user_id, a.id, a.file_id, t.tf, t.length
        FROM rag_text_index g, added a, rag_chunk_terms(g.config, a.text) t
        RETURNING lexeme, tf
    ), frequencies AS (
        INSERT INTO rag_lexemes (lexeme, chunks)
        SELECT lexeme, count(*) FROM postings GROUP BY lexeme ORDER BY lexeme
        ON CONFLICT (lexeme) DO UPDATE SET chunks = rag_lexemes.chunks + excluded.chunks
    )
    UPDATE rag_text_index SET
        chunks = chunks + (SELECT count(*) FROM added),
        tokens = tokens + (SELECT coalesce(sum(tf), 0) FROM postings);
    RETURN NULL;
END $$;

-- The counts come from the removed chunks' own text, not from the postings deleted here: when a
-- user is deleted, the foreign key's cascade may have removed the postings already.
CREATE FUNCTION rag_text_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH terms AS MATERIALIZED (
        SELECT t.lexeme, r.user_id, r.id, t.tf
        FROM rag_text_index g, removed r, rag_chunk_terms(g.config, r.text) t
    ), gone AS (
        DELETE FROM chunk_terms p USING terms t
        WHERE p.lexeme = t.lexeme AND p.user_id = t.user_id AND p.chunk_id = t.id
    ), frequencies AS (
        UPDATE rag_lexemes l SET chunks = greatest(l.chunks - f.n, 0)
        FROM (SELECT lexeme, count(*) AS n FROM terms GROUP BY lexeme) f
        WHERE l.lexeme = f.lexeme
    )
    UPDATE rag_text_index SET
        chunks = greatest(chunks - (SELECT count(*) FROM removed), 0),
        tokens = greatest(tokens - (SELECT coalesce(sum(tf), 0) FROM terms), 0);
    RETURN NULL;
END $$;

CREATE TRIGGER chunks_text_lock_insert BEFORE INSERT ON chunks
    FOR EACH STATEMENT EXECUTE FUNCTION rag_text_lock();
CREATE TRIGGER chunks_text_lock_delete BEFORE DELETE ON chunks
    FOR EACH STATEMENT EXECUTE FUNCTION rag_text_lock();
CREATE TRIGGER chunks_text_added AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION rag_text_added();
CREATE TRIGGER chunks_text_removed AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION rag_text_removed();

-- Everything again with another configuration: what a change of the setting runs, once.
CREATE FUNCTION rag_text_rebuild(wanted regconfig) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM rag_text_index FOR UPDATE;
    TRUNCATE chunk_terms, rag_lexemes;
    INSERT INTO chunk_terms (lexeme, user_id, chunk_id, file_id, tf, length)
    SELECT t.lexeme, c.user_id, c.id, c.file_id, t.tf, t.length
    FROM chunks c, rag_chunk_terms(wanted, c.text) t;
    INSERT INTO rag_lexemes (lexeme, chunks)
    SELECT lexeme, count(*) FROM chunk_terms GROUP BY lexeme;
    UPDATE rag_text_index SET
        config = wanted,
        chunks = (SELECT count(*) FROM chunks),
        tokens = (SELECT coalesce(sum(tf), 0) FROM chunk_terms);
END $$;

-- The chunks written before this migration: their postings and statistics.
DO $$ BEGIN PERFORM rag_text_rebuild('english'); END $$;
