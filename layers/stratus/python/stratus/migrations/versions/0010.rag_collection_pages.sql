-- A collection's files a page at a time, in the order they were added, without sorting the
-- whole collection on every request (GET /api/v1/knowledge/{id}/files, and the first page that
-- every collection response carries).
-- depends: 0009.rag_bm25
CREATE INDEX knowledge_files_added_idx ON knowledge_files (knowledge_id, added_at, file_id);
