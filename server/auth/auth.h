/* auth.h -- team mode: who is asking, and what they may do.
 *
 * Secrets: login and API tokens are 32 random bytes, given to the client as
 * 43 characters of base64url; the database keeps only a BLAKE2b hash of
 * them keyed with the server's secret key (so a stolen database does not
 * give working tokens). Passwords are Argon2id strings (crypto_pwhash_str,
 * interactive limits), hashed and checked only on pool threads. Share links
 * carry (doc, role, expiry, epoch) under a crypto_auth tag; bumping a
 * document's epoch revokes every link made before.
 *
 * In open mode (the default on loopback) everyone is an anonymous owner of
 * everything, and none of this is consulted. */
#ifndef CHORUS_SERVER_AUTH_H
#define CHORUS_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

#define SRV_TOKEN_CHARS 43          /* base64url of 32 bytes, no padding */
#define SRV_TOKEN_HASH 32
#define SRV_SESSION_MS (30LL * 24 * 3600 * 1000)  /* a login lasts 30 days */
#define SRV_COOKIE "chorus_session"

typedef struct srv_identity {
    int64_t user_id;        /* 0: nobody logged in */
    char name[65];
    int admin;
    int64_t expires_ms;     /* when the login's token expires; 0 never */
} srv_identity;

/* In team mode, a guest's name (no account) ends with this, so that no
 * guest can pass for an account; account names may not end with it. */
#define SRV_GUEST_MARK " (guest)"

/* Load the server's secret key from the open database 's' (borrowed),
 * creating it on first use. Returns 0, or -1 with one line on stderr
 * naming 'db_path'. Call once at start-up, before any other function
 * here. */
int srv_auth_init(store *s, const char *db_path);

/* Team mode on? (set by srv_auth_set_team, from --auth) */
int srv_auth_team(void);
void srv_auth_set_team(int on);

/* A new token: its text (SRV_TOKEN_CHARS + NUL) and its keyed hash. */
void srv_auth_new_token(char text[SRV_TOKEN_CHARS + 1],
                        unsigned char hash[SRV_TOKEN_HASH]);
/* The keyed hash of a token's text. */
void srv_auth_token_hash(const char *text, unsigned char hash[SRV_TOKEN_HASH]);

/* Hash a password (crypto_pwhash_str). 0, or -1 (out of memory). Slow:
 * never on the lws thread. */
int srv_auth_hash_password(const char *password, char *out, size_t outlen);

/* Check 'password' against 'pwhash'. 1 matches, 0 does not. When it matches
 * and the hash was made with other limits, *rehash (if not NULL) is set 1.
 * Slow: never on the lws thread. */
int srv_auth_check_password(const char *password, const char *pwhash,
                            int *rehash);

/* The identity behind a token, read from 's' (a pool thread). 0, or
 * STORE_ENOTFOUND (unknown, expired, revoked), or another STORE_E*. */
int srv_auth_resolve(store *s, const char *token, srv_identity *out);
/* The same from the token's keyed hash (what a connection keeps). */
int srv_auth_resolve_hash(store *s, const unsigned char hash[SRV_TOKEN_HASH],
                          srv_identity *out);

/* 'name' as a guest's name into 'out' (at least 65 bytes): cut at a
 * character boundary so that with SRV_GUEST_MARK appended it fits 64
 * bytes. 'name' may be 'out'. */
void srv_guest_name(char *out, size_t outlen, const char *name);

/* A share link token for (doc, role, expiry, epoch), into 'out'. */
int srv_share_make(const char *doc, int role, int64_t expires_ms,
                   int64_t epoch, char *out, size_t outlen);
/* The role a share token gives on 'doc', checked against the current epoch
 * and time (read from 's'): a STORE_ROLE_*, or STORE_ROLE_NONE when the
 * token is forged, for another document, expired or revoked. */
int srv_share_role(store *s, const char *token, const char *doc,
                   int64_t now_ms);

/* The role 'who' has on 'doc' (admins: owner; open mode: owner), also
 * granted by 'share' (may be NULL). *exists is set to whether the
 * document exists. Returns STORE_ROLE_* or a STORE_E* (< 0). */
int srv_auth_doc_role(store *s, const srv_identity *who, const char *doc,
                      const char *share, int *exists);

/* May 'who' learn that 'doc' exists, i.e. read it (a role on it, admin,
 * or open mode)? 1 or 0 (also on a storage error). */
int srv_auth_may_know(store *s, const srv_identity *who, const char *doc);

/* The message of 409 id_unavailable: a new document's id is taken by one
 * the caller may not read. */
#define SRV_ID_UNAVAILABLE "that id cannot be used: choose another, or leave it out"

/* What an HTTP route needs. */
enum { SRV_NEED_PUBLIC, SRV_NEED_LOGIN, SRV_NEED_VIEWER, SRV_NEED_EDITOR,
       SRV_NEED_OWNER, SRV_NEED_ADMIN };

/* Authorize an HTTP request on a pool thread: resolve 'token' (may be
 * empty), then check 'need' (SRV_NEED_*), on 'doc' for the document needs,
 * where a share link token 'share' (may be NULL) can also grant a role.
 * Returns 0 (allowed; *who and *role filled: in open mode an anonymous
 * owner), or -1 with *status and *code set for the error answer (401
 * unauthorized, 403 forbidden, 404 not_found, 500 server_error). A caller
 * that may not read 'doc' gets the same answer whether or not it exists:
 * 404 when logged in, 401 as a guest; 403 goes only to those who can read
 * 'doc' but need more. */
int srv_auth_http(store *st, const char *token, const char *share,
                  const char *doc, int need, srv_identity *who, int *role,
                  int *status, const char **code);

/* Find the value of cookie 'name' in a Cookie header into 'out'. 0, or -1
 * when absent or too long. (Not lws_http_cookie_get: lws 4.1.6 logs the
 * whole header, session cookie included.) */
int srv_cookie_value(const char *header, const char *name, char *out,
                     size_t outlen);

/* Brute-force limits on login, per account name and per client address,
 * 5 and 20 attempts in a fixed window of 15 minutes (lws thread only). An
 * attempt counts from its start, so that parallel requests cannot run more
 * password checks than the limit:
 * srv_login_begin: 1 may try (a slot is now taken for it on both counts),
 *   0 limited now (nothing taken).
 * srv_login_succeeded: the password was right: the account's count starts
 *   again from nothing, the address gets its slot back.
 * srv_login_release: the attempt ended without a verdict (busy, server
 *   error): both slots are given back.
 * A wrong password keeps its slots. 'begun_ms' is the 'now_ms' given to
 * srv_login_begin (a slot of an earlier window is not given back). */
int srv_login_begin(const char *name, const char *ip, uint64_t now_ms);
void srv_login_succeeded(const char *name, const char *ip, uint64_t begun_ms);
void srv_login_release(const char *name, const char *ip, uint64_t begun_ms);

#endif
