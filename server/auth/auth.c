/* auth.c -- tokens, passwords, share links, cookies and login limits for
 * team mode (see auth.h for the model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "server/auth/auth.h"
#include "server/base/base.h"

static unsigned char key[32];       /* the server's secret key */
static int team;

int srv_auth_team(void)
{
    return team;
}

void srv_auth_set_team(int on)
{
    team = on;
}

int srv_auth_init(store *s, const char *db_path)
{
    unsigned char *v = NULL, fresh[32];
    size_t len = 0;
    if (sodium_init() < 0) {
        fprintf(stderr, "chorus: libsodium failed to start\n");
        return -1;
    }
    int rc = store_meta_get(s, "secret_key", &v, &len);
    if (rc == STORE_ENOTFOUND) {
        randombytes_buf(fresh, sizeof fresh);
        rc = store_meta_put_new(s, "secret_key", fresh, sizeof fresh);
        if (rc == 0 || rc == STORE_EEXIST) /* another process may have won */
            rc = store_meta_get(s, "secret_key", &v, &len);
        sodium_memzero(fresh, sizeof fresh);
    }
    if (rc == 0 && len != sizeof key) rc = STORE_ECORRUPT;
    if (rc < 0) {
        fprintf(stderr, "chorus: %s: cannot read the server key: %s\n", db_path,
                store_strerror(rc));
        free(v);
        return -1;
    }
    memcpy(key, v, sizeof key);
    sodium_memzero(v, len);
    free(v);
    return 0;
}

void srv_auth_token_hash(const char *text, unsigned char hash[SRV_TOKEN_HASH])
{
    crypto_generichash(hash, SRV_TOKEN_HASH, (const unsigned char *)text,
                       strlen(text), key, sizeof key);
}

void srv_auth_new_token(char text[SRV_TOKEN_CHARS + 1],
                        unsigned char hash[SRV_TOKEN_HASH])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(text, SRV_TOKEN_CHARS + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    srv_auth_token_hash(text, hash);
}

int srv_auth_hash_password(const char *password, char *out, size_t outlen)
{
    if (outlen < crypto_pwhash_STRBYTES) return -1;
    return crypto_pwhash_str(out, password, strlen(password),
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

int srv_auth_check_password(const char *password, const char *pwhash,
                            int *rehash)
{
    char stored[crypto_pwhash_STRBYTES];
    if (strlen(pwhash) >= sizeof stored) return 0;
    memset(stored, 0, sizeof stored);
    strcpy(stored, pwhash);
    int ok = crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
    if (ok && rehash)
        *rehash = crypto_pwhash_str_needs_rehash(
                      stored, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
    return ok;
}

int srv_auth_resolve(store *s, const char *token, srv_identity *out)
{
    unsigned char hash[SRV_TOKEN_HASH];
    memset(out, 0, sizeof *out);
    if (!token || strlen(token) != SRV_TOKEN_CHARS) return STORE_ENOTFOUND;
    srv_auth_token_hash(token, hash);
    return srv_auth_resolve_hash(s, hash, out);
}

int srv_auth_resolve_hash(store *s, const unsigned char hash[SRV_TOKEN_HASH],
                          srv_identity *out)
{
    int64_t uid = 0, expires = 0;
    store_user u;
    memset(out, 0, sizeof *out);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int rc = store_token_lookup(s, hash, SRV_TOKEN_HASH, now, &uid, &expires);
    if (rc == 0) rc = store_user_get_id(s, uid, &u);
    if (rc < 0) return rc;
    out->user_id = u.id;
    out->admin = u.admin;
    out->expires_ms = expires;
    snprintf(out->name, sizeof out->name, "%s", u.name);
    store_user_clear(&u);
    return 0;
}

void srv_guest_name(char *out, size_t outlen, const char *name)
{
    char cut[65];
    size_t keep = 64 - strlen(SRV_GUEST_MARK), n = strlen(name);
    if (n > keep) {
        n = keep;
        while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80) n--;
    }
    memcpy(cut, name, n);
    cut[n] = 0;
    snprintf(out, outlen, "%s" SRV_GUEST_MARK, cut);
}

/* ---- share links: base64url(payload) "." base64url(tag) */

int srv_share_make(const char *doc, int role, int64_t expires_ms,
                   int64_t epoch, char *out, size_t outlen)
{
    char payload[160];
    unsigned char tag[crypto_auth_BYTES];
    char b1[240], b2[100];
    int n = snprintf(payload, sizeof payload, "%s\n%d\n%lld\n%lld", doc, role,
                     (long long)expires_ms, (long long)epoch);
    if (n <= 0 || (size_t)n >= sizeof payload) return -1;
    crypto_auth(tag, (const unsigned char *)payload, (size_t)n, key);
    sodium_bin2base64(b1, sizeof b1, (const unsigned char *)payload, (size_t)n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(b2, sizeof b2, tag, sizeof tag,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if ((size_t)snprintf(out, outlen, "%s.%s", b1, b2) >= outlen) return -1;
    return 0;
}

int srv_share_role(store *s, const char *token, const char *doc,
                   int64_t now_ms)
{
    char p1[240];
    unsigned char payload[170], tag[crypto_auth_BYTES];
    size_t plen = 0, tlen = 0;
    const char *dot = token ? strchr(token, '.') : NULL;
    if (!dot || (size_t)(dot - token) >= sizeof p1) return STORE_ROLE_NONE;
    memcpy(p1, token, (size_t)(dot - token));
    p1[dot - token] = 0;
    if (sodium_base642bin(payload, sizeof payload - 1, p1, strlen(p1), NULL,
                          &plen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        sodium_base642bin(tag, sizeof tag, dot + 1, strlen(dot + 1), NULL, &tlen,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        tlen != sizeof tag || crypto_auth_verify(tag, payload, plen, key) != 0)
        return STORE_ROLE_NONE;
    payload[plen] = 0;
    char d[80];
    int role;
    long long expires, epoch;
    int64_t current;
    if (sscanf((char *)payload, "%79[^\n]\n%d\n%lld\n%lld", d, &role, &expires,
               &epoch) != 4 ||
        strcmp(d, doc) != 0 || expires <= now_ms || role < STORE_ROLE_VIEWER ||
        role > STORE_ROLE_EDITOR ||
        store_share_epoch(s, doc, &current) < 0 || current != epoch)
        return STORE_ROLE_NONE;
    return role;
}

int srv_auth_doc_role(store *s, const srv_identity *who, const char *doc,
                      const char *share, int *exists)
{
    store_docinfo d;
    memset(&d, 0, sizeof d);
    int rc = store_doc_get(s, doc, &d);
    store_docinfo_clear(&d);
    if (rc < 0 && rc != STORE_ENOTFOUND) return rc;
    *exists = rc == 0;
    if (!team || (who && who->admin)) return STORE_ROLE_OWNER;
    int role = STORE_ROLE_NONE;
    if (*exists && who && who->user_id &&
        (rc = store_role_get(s, doc, who->user_id, &role)) < 0)
        return rc;
    if (*exists && share && *share) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int sr = srv_share_role(s, share, doc,
                                (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (sr > role) role = sr;
    }
    return role;
}

int srv_auth_http(store *st, const char *token, const char *share,
                  const char *doc, int need, srv_identity *who, int *role,
                  int *status, const char **code)
{
    int exists = 0, rc;
    memset(who, 0, sizeof *who);
    *role = STORE_ROLE_OWNER;
    if (!team || need == SRV_NEED_PUBLIC) return 0;
    if (token && *token && (rc = srv_auth_resolve(st, token, who)) < 0 &&
        rc != STORE_ENOTFOUND)
        goto server_error;
    int has_share = share && *share && need >= SRV_NEED_VIEWER &&
                    need <= SRV_NEED_EDITOR;
    if (!who->user_id && !has_share) {
        *status = 401, *code = "unauthorized";
        return -1;
    }
    if (need == SRV_NEED_LOGIN) {
        if (who->user_id) return 0;
        *status = 401, *code = "unauthorized";
        return -1;
    }
    if (need == SRV_NEED_ADMIN) {
        if (who->admin) return 0;
        *status = 403, *code = "forbidden";
        return -1;
    }
    if ((rc = srv_auth_doc_role(st, who, doc, share, &exists)) < 0) goto server_error;
    *role = rc;
    static const int want[] = {[SRV_NEED_VIEWER] = STORE_ROLE_VIEWER,
                               [SRV_NEED_EDITOR] = STORE_ROLE_EDITOR,
                               [SRV_NEED_OWNER] = STORE_ROLE_OWNER};
    /* who may not read a document may not learn whether it exists: the
     * same answer for both. A guest whose share link grants nothing is
     * not authenticated at all. */
    if (*role == STORE_ROLE_NONE || !exists) {
        if (who->user_id) *status = 404, *code = "not_found";
        else *status = 401, *code = "unauthorized";
        return -1;
    }
    if (*role >= want[need]) return 0;
    *status = 403, *code = "forbidden"; /* a reader: it knows D exists */
    return -1;
server_error:
    *status = 500, *code = "server_error";
    return -1;
}

int srv_auth_may_know(store *s, const srv_identity *who, const char *doc)
{
    int exists = 0;
    return srv_auth_doc_role(s, who, doc, NULL, &exists) > STORE_ROLE_NONE;
}

/* ---- cookies */

int srv_cookie_value(const char *header, const char *name, char *out,
                     size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == ';') p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            while (vlen && p[nlen + vlen] == ' ') vlen--;
            if (vlen >= outlen) return -1;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = 0;
            return 0;
        }
        p = end;
    }
    return -1;
}

/* ---- login limits: a fixed window per key, counted when an attempt
 * starts, so that checks still running (Argon2 is slow) count as well */

#define WINDOW_MS (15 * 60 * 1000)
#define MAX_PER_ACCOUNT 5
#define MAX_PER_IP 20

typedef struct attempts {
    uint64_t since;    /* the window's start */
    int used;          /* attempts begun in it, less those given back */
} attempts;

static srv_map per_account, per_ip;

static attempts *slot(srv_map *m, const char *k, uint64_t now, int create)
{
    attempts *a = srv_map_get(m, k);
    if (a && now - a->since > WINDOW_MS) {
        a->since = now;
        a->used = 0;
    }
    if (!a && create && (a = calloc(1, sizeof *a))) {
        a->since = now;
        if (srv_map_put(m, k, a) < 0) {
            free(a);
            a = NULL;
        }
    }
    return a;
}

int srv_login_begin(const char *name, const char *ip, uint64_t now_ms)
{
    attempts *a = slot(&per_account, name, now_ms, 0);
    attempts *b = slot(&per_ip, ip, now_ms, 0);
    if ((a && a->used >= MAX_PER_ACCOUNT) || (b && b->used >= MAX_PER_IP))
        return 0;
    a = slot(&per_account, name, now_ms, 1);
    b = slot(&per_ip, ip, now_ms, 1);
    if (!a || !b) return 0; /* out of memory: no check we cannot count */
    a->used++;
    b->used++;
    return 1;
}

/* Give back the slot of an attempt begun at 'begun_ms', unless its window
 * has started again since. */
static void give_back(srv_map *m, const char *k, uint64_t begun_ms)
{
    attempts *a = srv_map_get(m, k);
    if (a && a->since <= begun_ms && a->used > 0) a->used--;
}

void srv_login_release(const char *name, const char *ip, uint64_t begun_ms)
{
    give_back(&per_account, name, begun_ms);
    give_back(&per_ip, ip, begun_ms);
}

void srv_login_succeeded(const char *name, const char *ip, uint64_t begun_ms)
{
    free(srv_map_del(&per_account, name));
    give_back(&per_ip, ip, begun_ms);
}
