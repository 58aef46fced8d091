-- 0004_auth_generation.sql -- a counter that moves whenever a right may
-- have been taken away, so a running server notices changes made by any
-- process (the CLI writes this file while the server runs).
-- The triggers bump it inside the statement that removes the right, so in
-- the same transaction: no code path (server, CLI, a future tool) can
-- forget it. Covered: a token deleted (logout, password change, a user
-- removed, revocation, purge of expired ones), a user removed or no longer
-- admin, a role taken away or changed, a document's share links revoked.
-- Granting a new role (an insert) takes nothing away and does not bump it.
-- The server polls the value once a second and re-checks its connections
-- when it moved (server/rights.c).
INSERT INTO meta (key, value) VALUES ('auth_generation', 0);

CREATE TRIGGER auth_gen_token_delete AFTER DELETE ON tokens
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;

CREATE TRIGGER auth_gen_user_delete AFTER DELETE ON users
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;

CREATE TRIGGER auth_gen_user_admin AFTER UPDATE OF admin ON users
WHEN new.admin < old.admin
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;

CREATE TRIGGER auth_gen_role_delete AFTER DELETE ON roles
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;

CREATE TRIGGER auth_gen_role_update AFTER UPDATE OF role ON roles
WHEN new.role <> old.role
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;

CREATE TRIGGER auth_gen_share_epoch AFTER UPDATE OF share_epoch ON documents
WHEN new.share_epoch <> old.share_epoch
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'auth_generation';
END;
