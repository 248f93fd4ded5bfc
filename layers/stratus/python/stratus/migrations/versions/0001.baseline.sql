-- Baseline: the extensions every later table relies on.
-- pgvector holds the embeddings of the rag function's chunks.
CREATE EXTENSION IF NOT EXISTS vector;
