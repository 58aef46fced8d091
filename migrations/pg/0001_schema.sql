-- pg/0001_schema.sql -- the whole Chorus schema on PostgreSQL: what SQLite
-- migrations 0001..0006 built, in one step (a PostgreSQL database starts
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
-- twice, across nodes too.
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

-- Append one op as the next version of its document, atomically: the
-- conditional update of the head takes the row lock, so of two nodes
-- appending the same version one waits and then finds the head moved.
-- Returns 0 or a STORE_E* code (storage/store.h); a refused op changes
-- nothing (the EXCEPTION block is a subtransaction), so the other jobs of
-- a writer's batch still commit.
CREATE FUNCTION chorus_append(p_doc TEXT, p_version BIGINT, p_op TEXT,
                              p_client TEXT, p_seq BIGINT, p_user TEXT,
                              p_time BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT;
    head BIGINT;
    last BIGINT;
BEGIN
    BEGIN
        UPDATE documents SET version = p_version,
               updated_ms = GREATEST(updated_ms, p_time)
         WHERE id = p_doc AND version = p_version - 1
        RETURNING num INTO n;
        IF n IS NOT NULL THEN
            INSERT INTO op_clients (doc, client, seq, version)
            VALUES (n, p_client, p_seq, p_version)
            ON CONFLICT (doc, client) DO UPDATE
               SET seq = excluded.seq, version = excluded.version
             WHERE excluded.seq > op_clients.seq;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'resent' USING ERRCODE = 'CH006';
            END IF;
            INSERT INTO ops (doc, version, op, client, seq, "user", time_ms)
            VALUES (n, p_version, p_op, p_client, p_seq, p_user, p_time);
            RETURN 0;
        END IF;
    EXCEPTION
        WHEN SQLSTATE 'CH006' THEN RETURN -6;         -- STORE_EDUP
        WHEN unique_violation THEN RETURN -13;        -- STORE_ECORRUPT
    END;
    -- the head was not version - 1: say why (nothing was changed)
    SELECT num, version INTO n, head FROM documents WHERE id = p_doc;
    IF n IS NULL THEN RETURN -3; END IF;              -- STORE_ENOTFOUND
    IF p_version > head + 1 THEN RETURN -7; END IF;   -- STORE_ERANGE
    SELECT seq INTO last FROM op_clients WHERE doc = n AND client = p_client;
    IF last IS NOT NULL AND p_seq <= last THEN RETURN -6; END IF;
    RETURN -5;                                        -- STORE_ECONFLICT
END $$;
