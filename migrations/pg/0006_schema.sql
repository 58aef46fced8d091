-- pg/0006_schema.sql -- the whole Chorus schema on PostgreSQL: what SQLite
-- migrations 0001..0006 built, in one step, numbered 0006 so that one
-- schema version means the same on both backends (a PostgreSQL database starts
-- here). Applied by storage/pg/pg.c in one transaction under an advisory
-- lock, so two nodes starting together apply it once. Invariant: for every
-- document the ops hold versions 1..documents.version with no gap; the
-- snapshot at V is the replay of ops 1..V. Never edit this file once
-- shipped: add 0002_... instead.

CREATE TABLE documents (
    num             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE CHECK (length(id) > 0),
    title           TEXT NOT NULL DEFAULT '',
    creator         TEXT NOT NULL DEFAULT '',
    created_ms      BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 0 CHECK (version >= 0),
    share_epoch     BIGINT NOT NULL DEFAULT 0,
    trashed_ms      BIGINT NOT NULL DEFAULT 0,
    indexed_version BIGINT NOT NULL DEFAULT -1
);
CREATE INDEX documents_trashed ON documents (trashed_ms) WHERE trashed_ms > 0;
CREATE INDEX documents_stale ON documents (updated_ms)
    WHERE indexed_version <> version;

-- (doc, version) is the key: a version is taken once, whichever node
-- commits it. (doc, client, seq) is unique: a resent op is never stored
-- twice, across nodes too. An append locks its document's row first
-- (SELECT ... FOR UPDATE) and moves documents.version at commit with a
-- conditional update (WHERE version = the head it read): of two nodes
-- appending to one document, the second waits, then sees the new head.
CREATE TABLE ops (
    doc     BIGINT NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    version BIGINT NOT NULL CHECK (version >= 1),
    op      TEXT NOT NULL,
    client  TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    "user"  TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (doc, version),
    UNIQUE (doc, client, seq)
);

-- Each client's newest op on each document (a client's seqs only grow):
-- a resend is recognised by one row.
CREATE TABLE op_clients (
    doc     BIGINT NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    client  TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (doc, client)
);

-- Full texts, every N ops: bytes, since a text may hold U+0000.
CREATE TABLE snapshots (
    doc     BIGINT NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    version BIGINT NOT NULL CHECK (version >= 0),
    text    BYTEA NOT NULL,
    PRIMARY KEY (doc, version)
);

CREATE TABLE users (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    pwhash     TEXT NOT NULL,
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_ms BIGINT NOT NULL
);

CREATE TABLE tokens (
    hash       BYTEA PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE roles (
    doc     BIGINT NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
    PRIMARY KEY (doc, user_id)
);
CREATE INDEX roles_user ON roles (user_id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- The auth generation (SQLite 0004): moved in the same transaction as any
-- change that takes a right away. A number, not bytes, here.
CREATE TABLE auth_generation (
    one   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    value BIGINT NOT NULL
);
INSERT INTO auth_generation (value) VALUES (0);

CREATE FUNCTION chorus_auth_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_generation SET value = value + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER auth_gen_token_delete AFTER DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION chorus_auth_bump();
CREATE TRIGGER auth_gen_user_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION chorus_auth_bump();
CREATE TRIGGER auth_gen_user_admin AFTER UPDATE OF admin ON users
    FOR EACH ROW WHEN (new.admin < old.admin)
    EXECUTE FUNCTION chorus_auth_bump();
CREATE TRIGGER auth_gen_role_delete AFTER DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION chorus_auth_bump();
CREATE TRIGGER auth_gen_role_update AFTER UPDATE OF role ON roles
    FOR EACH ROW WHEN (new.role <> old.role)
    EXECUTE FUNCTION chorus_auth_bump();
CREATE TRIGGER auth_gen_share_epoch AFTER UPDATE OF share_epoch ON documents
    FOR EACH ROW WHEN (new.share_epoch <> old.share_epoch)
    EXECUTE FUNCTION chorus_auth_bump();
CREATE TRIGGER auth_gen_trash AFTER UPDATE OF trashed_ms ON documents
    FOR EACH ROW WHEN (new.trashed_ms > 0 AND old.trashed_ms = 0)
    EXECUTE FUNCTION chorus_auth_bump();

-- The search index: each document's indexed text (the title is read from
-- documents, so it needs no trigger). Trigram indexes (pg_trgm) answer
-- ILIKE '%q%' for 3 or more characters in any script.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE search (
    doc  BIGINT PRIMARY KEY REFERENCES documents(num) ON DELETE CASCADE,
    body TEXT NOT NULL
);
CREATE INDEX search_body_trgm ON search USING gin (body gin_trgm_ops);
CREATE INDEX documents_title_trgm ON documents USING gin (title gin_trgm_ops);
