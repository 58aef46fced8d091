-- 0006_search.sql -- the full-text search index: titles and current texts.
-- FTS5 with the trigram tokenizer: any substring of 3 or more characters
-- is found through the index, in every script (no word splitting, so
-- Korean, Japanese and Chinese work), case-folded. The table keeps its own
-- copy of each text, which gives snippets and the scan that answers
-- queries of 1 or 2 characters (docs/search.md). rowid = documents.num.
-- documents.indexed_version is the version whose text is in the index (-1:
-- none): the server indexes a document once it has been quiet, at unload
-- and at start for every document whose version moved on. Never edit this
-- file once shipped.
CREATE VIRTUAL TABLE search USING fts5(title, body,
    tokenize = 'trigram case_sensitive 0');

ALTER TABLE documents ADD COLUMN indexed_version INTEGER NOT NULL DEFAULT -1;

-- A title is indexed with its change, in the same statement.
CREATE TRIGGER search_title AFTER UPDATE OF title ON documents
BEGIN
    UPDATE search SET title = new.title WHERE rowid = new.num;
END;

-- A purged document leaves the index with its row.
CREATE TRIGGER search_purge AFTER DELETE ON documents
BEGIN
    DELETE FROM search WHERE rowid = old.num;
END;

-- What the indexer looks for every few seconds: documents whose text moved
-- on since it was indexed. A partial index keeps that cheap however many
-- documents there are (most are current).
CREATE INDEX documents_stale ON documents (updated_ms)
    WHERE indexed_version <> version;
