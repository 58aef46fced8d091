/* test_store_util.h -- helpers shared by the tests/test_store_*.c programs.
 *
 * Every test gets a fresh temporary directory with a database opened through
 * the real migrations; tmp_cleanup removes the directory and everything in
 * it. A tiny code-point string model gives an independent reference for the
 * texts the store rebuilds, and builds the wire JSON of random edits.
 *
 * On PostgreSQL: a program that calls pg_use() first (or any, when the
 * environment has CHORUS_TEST_PG=postgresql://.../postgres, which tests/run
 * sets for the programs it runs a second time there) gets a fresh database
 * per tmp_db instead of a file, created through that URL and dropped by
 * tmp_cleanup. Without the variable pg_use() starts a PostgreSQL itself
 * (tests/pg.sh) and stops it at exit. */
#ifndef CHORUS_TESTS_STORE_UTIL_H
#define CHORUS_TESTS_STORE_UTIL_H

#include <ftw.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/store.h"
#include "tests/harness.h"

/* harness.h defines these static; not every program uses both. */
static void __attribute__((unused)) util_uses_harness(void)
{
    (void)harness_seed;
    (void)harness_iters;
}

typedef struct tmp_db {
    char dir[64];
    char path[512];  /* a file, or the URL of a fresh PostgreSQL database */
    char pgname[64]; /* that database's name ("" on SQLite) */
} tmp_db;

static char pg_base[400];   /* URL of the maintenance database, or "" */
static char pg_dir[256];    /* the server pg_use started, or "" */

static void pg_stop(void)
{
    char cmd[400];
    if (!pg_dir[0]) return;
    snprintf(cmd, sizeof cmd, "sh tests/pg.sh stop %s", pg_dir);
    if (system(cmd) != 0) fprintf(stderr, "  could not stop %s\n", pg_dir);
    pg_dir[0] = 0;
}

/* Run tmp_db on PostgreSQL from now on: CHORUS_TEST_PG, or a server of
 * our own. 0, 77 when PostgreSQL is not installed, -1 on failure. */
static int __attribute__((unused)) pg_use(void)
{
    const char *env = getenv("CHORUS_TEST_PG");
    if (env && *env) {
        snprintf(pg_base, sizeof pg_base, "%s", env);
        return 0;
    }
    FILE *f = popen("sh tests/pg.sh start", "r");
    if (!f) return -1;
    int ok = fgets(pg_dir, sizeof pg_dir, f) && fgets(pg_base, sizeof pg_base, f);
    int st = pclose(f);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) return 77;
    if (!ok || st != 0) return -1;
    pg_dir[strcspn(pg_dir, "\n")] = 0;
    pg_base[strcspn(pg_base, "\n")] = 0;
    atexit(pg_stop);
    return 0;
}

/* One statement on the maintenance database; 0 or -1 (printed). */
static int pg_admin(const char *sql)
{
    PGconn *c = PQconnectdb(pg_base);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "  %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* RUN a case that reaches into SQLite itself (files, PRAGMAs, damage done
 * with sqlite3): skipped, and said so, on PostgreSQL, where
 * tests/test_store_pg.c covers the same ground its own way. */
#define RUN_SQLITE(fn)                                                       \
    do {                                                                     \
        if (getenv("CHORUS_TEST_PG")) printf("skip %s (SQLite only)\n", #fn); \
        else RUN(fn);                                                        \
    } while (0)

static void tmp_init_pg(tmp_db *t)
{
    static int count;
    char sql[128];
    const char *slash = strrchr(pg_base, '/');
    snprintf(t->pgname, sizeof t->pgname, "chorus_t_%d_%d", (int)getpid(),
             ++count);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", t->pgname);
    if (!slash || pg_admin(sql) < 0) exit(2);
    snprintf(t->path, sizeof t->path, "%.*s/%s", (int)(slash - pg_base),
             pg_base, t->pgname);
}

static void tmp_init(tmp_db *t)
{
    t->pgname[0] = 0;
    if (!pg_base[0] && getenv("CHORUS_TEST_PG")) (void)pg_use();
    strcpy(t->dir, "/tmp/chorus-store-XXXXXX");
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(t->path, sizeof t->path, "%s/chorus.db", t->dir);
    if (pg_base[0]) tmp_init_pg(t);
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void tmp_cleanup(tmp_db *t)
{
    if (t->pgname[0]) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", t->pgname);
        (void)pg_admin(sql);
    }
    nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Open t->path with options 'o'; NULL (the reason printed) on failure. */
static inline store *open_db_with(tmp_db *t, const store_options *o)
{
    char err[256] = "";
    store *s = NULL;
    if (store_open(&s, t->path, o, err, sizeof err))
        fprintf(stderr, "  store_open: %s\n", err);
    return s;
}

/* Open t->path with defaults changed by snapshot_every/auto (0 keeps). */
static inline store *open_db(tmp_db *t, int snapshot_every, int auto_snapshot)
{
    store_options o;
    store_options_init(&o);
    if (snapshot_every) o.snapshot_every = snapshot_every;
    o.auto_snapshot = auto_snapshot;
    return open_db_with(t, &o);
}

static inline store_oprec rec(const char *doc, int64_t version, const char *op,
                       const char *client, int64_t seq)
{
    store_oprec r = { doc, version, op, client, seq, "alice",
                      1000 + version };
    return r;
}

/* ---- a reference text model: an array of code points ---- */

typedef struct model {
    uint32_t *cp;
    size_t n, cap;
} model;

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static inline size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* The model's text as a malloc'd UTF-8 string. */
static inline char *model_text(const model *m)
{
    char *t = malloc(m->n * 4 + 1), *o = t;
    for (size_t i = 0; i < m->n; i++) o += put_utf8(o, m->cp[i]);
    *o = '\0';
    return t;
}

static inline uint32_t random_cp(void)
{
    static const uint32_t pool[] = { 'a', 'b', 'c', ' ', '\n', 0xE9, 0x4E2D,
                                     0x1F600, '"', '\\' };
    return pool[rnd() % (sizeof pool / sizeof pool[0])];
}

/* Make a random edit on 'm' and write its wire JSON to 'json'
 * ([pos, -del, "ins"] with zero parts left out). */
static inline void model_edit(model *m, char *json, size_t cap)
{
    size_t pos = m->n ? rnd() % (m->n + 1) : 0;
    size_t del = (m->n - pos && rnd() % 3 == 0) ? rnd() % (m->n - pos) + 1 : 0;
    size_t ins = (!del || rnd() % 2) ? rnd() % 5 + 1 : 0;
    uint32_t add[8];
    int o = snprintf(json, cap, "[");
    if (del > 4) del = 4;
    if (pos) o += snprintf(json + o, cap - (size_t)o, "%zu,", pos);
    if (ins) {
        json[o++] = '"';
        for (size_t i = 0; i < ins; i++) {
            add[i] = random_cp();
            if (add[i] == '"' || add[i] == '\\') json[o++] = '\\';
            if (add[i] == '\n') {
                json[o++] = '\\';
                json[o++] = 'n';
            } else {
                o += (int)put_utf8(json + o, add[i]);
            }
        }
        json[o++] = '"';
        json[o++] = ',';
    }
    if (del) o += snprintf(json + o, cap - (size_t)o, "%d,", -(int)del);
    json[o - 1] = ']';
    json[o] = '\0';
    if (m->n + ins > m->cap) {
        m->cap = (m->n + ins) * 2 + 16;
        m->cp = realloc(m->cp, m->cap * sizeof *m->cp);
    }
    memmove(m->cp + pos, m->cp + pos + del, (m->n - pos - del) * 4);
    m->n -= del;
    memmove(m->cp + pos + ins, m->cp + pos, (m->n - pos) * 4);
    memcpy(m->cp + pos, add, ins * 4);
    m->n += ins;
}

#endif
