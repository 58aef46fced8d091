-- 0002_accounts.sql -- team mode: accounts, login sessions and API tokens,
-- per-document roles, share-link epochs, and the server's secret key.
-- Secrets are never stored: a token is kept only as a keyed BLAKE2b hash,
-- a password only as an Argon2id string (crypto_pwhash_str).

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    pwhash     TEXT NOT NULL,
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_ms INTEGER NOT NULL
);

-- kind 'session': a browser login (expires); 'api': a bot's token (never,
-- unless expires_ms > 0).
CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('session', 'api')),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens (user_id);

-- role: 1 viewer, 2 editor, 3 owner.
CREATE TABLE roles (
    doc     INTEGER NOT NULL REFERENCES documents(num) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role    INTEGER NOT NULL CHECK (role BETWEEN 1 AND 3),
    PRIMARY KEY (doc, user_id)
) WITHOUT ROWID;
CREATE INDEX roles_user ON roles (user_id);

-- Share links carry (doc, role, expiry, epoch) under a MAC; bumping the
-- epoch revokes every link made before.
ALTER TABLE documents ADD COLUMN share_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
