-- 0001_initial.sql -- documents, their op log and snapshots.
-- Invariant kept by storage/: for every document the ops hold versions
-- 1..documents.version with no gap; snapshots.text at V is the replay of
-- ops 1..V. Never edit this file once shipped: add 0002_... instead.

-- 'num' is the document's key inside the database (small, integer, fast
-- to compare in the op log's keys); 'id' is its public name.
CREATE TABLE documents (
    num        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE CHECK (length(id) > 0),
    title      TEXT NOT NULL DEFAULT '',
    creator    TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    version    INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0)
);

-- The op log. (doc, version) is the key: a version is taken once.
-- (doc, client, seq) is unique: a resent op can never be stored twice; the
-- index also answers "the newest op of this client" (highest seq).
CREATE TABLE ops (
    doc     INTEGER NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 1),
    op      TEXT NOT NULL,
    client  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    user    TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (doc, version)
) WITHOUT ROWID;

CREATE UNIQUE INDEX ops_doc_client_seq ON ops (doc, client, seq);

-- Full texts, every N ops. A rowid table: the rows are large.
CREATE TABLE snapshots (
    doc     INTEGER NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    version INTEGER NOT NULL CHECK (version >= 0),
    text    TEXT NOT NULL,
    UNIQUE (doc, version)
);
