-- 0005_trash.sql -- documents in the trash.
-- A document moved to the trash keeps its row, log, snapshots and roles;
-- trashed_ms is when it was moved there (0: not in the trash). Every read
-- that lists, gets or joins a document skips trashed rows (storage/), and
-- a purge deletes the row, which cascades to ops, snapshots and roles, so
-- the id can be taken again. Never edit this file once shipped.
ALTER TABLE documents ADD COLUMN trashed_ms INTEGER NOT NULL DEFAULT 0;

CREATE INDEX documents_trashed ON documents (trashed_ms) WHERE trashed_ms > 0;

-- Moving a document to the trash takes every right on it away: a running
-- server in team mode notices a move made by another process (the CLI)
-- through the auth generation (0004) and leaves its clients out.
CREATE TRIGGER auth_gen_trash AFTER UPDATE OF trashed_ms ON documents
WHEN new.trashed_ms > 0 AND old.trashed_ms = 0
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;
