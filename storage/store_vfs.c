/* store_vfs.c -- a thin VFS over SQLite's default one that gathers the
 * writes of a commit to the WAL into one write.
 *
 * SQLite appends a commit to the WAL one frame at a time, two write() calls
 * a frame (its 24-byte header, then the page), and then flushes the file.
 * With synchronous=FULL nothing reads those frames before that flush, so
 * this layer keeps consecutive WAL writes in a buffer and issues them as
 * one write just before the flush (docs/benchmarks.md has what that
 * saves: the writes of a commit cost a fraction, the flush no more).
 *
 * Invariant: every byte of a commit reaches the file, in SQLite's order,
 * before any read, size query, truncation or sync of that file, and before
 * a write that does not continue the buffered run. So the file
 * holds what SQLite believes it holds whenever anyone can look; only the
 * moment of the write() moves, never past the sync a commit waits for.
 *
 * A transaction that is abandoned after writing frames (a rollback after
 * the page cache spilled, a failed commit) leaves a run nobody will sync.
 * Written later, it could land on frames another connection committed in
 * the meantime. So the database file is wrapped too, only to watch the WAL
 * write lock: when SQLite releases it, a successful commit has already
 * been flushed, and whatever is still buffered belongs to an abandoned
 * transaction and is dropped (SQLite itself never looks past the last
 * commit frame). Each database file finds its connection's WAL through
 * sqlite3_filename_database(), which maps a WAL name to the database name
 * SQLite opened.
 *
 * Only the main database and "-wal" files are wrapped; every other file is
 * the default VFS's own object. Used only by connections with
 * synchronous=FULL (store_open): with NORMAL a commit does not sync the
 * WAL, so nothing would flush the buffer before other connections read the
 * commit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

#define RUN_MAX (4 << 20) /* a longer run is written out as it grows */
#define CHUNK (64 << 10)  /* the unix VFS takes writes under 128 KiB only */

typedef struct db_file db_file;

typedef struct wal_file {
    sqlite3_file base;    /* our methods */
    sqlite3_file *real;   /* the default VFS's file, just after this struct */
    char *buf;            /* SQLite's writes from 'at', not yet written */
    sqlite3_int64 at;
    int len, cap;
    db_file *db;          /* its database file, while both are open */
} wal_file;

struct db_file {
    sqlite3_file base;
    sqlite3_file *real;
    const char *name;     /* as SQLite passed it: the key WAL opens use */
    wal_file *wal;        /* this connection's WAL, while open */
    db_file *next;        /* open database files (registry) */
};

static sqlite3_vfs vfs;
static sqlite3_vfs *base_vfs;
static uint64_t writes_in, writes_out, dropped; /* atomics: tests, bench */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static db_file *registry;

/* Write the buffered run out (in CHUNK pieces: SQLite's unix VFS masks a
 * write's length to 17 bits). */
static int flush(wal_file *f)
{
    int rc = SQLITE_OK;
    for (int done = 0; done < f->len && rc == SQLITE_OK; done += CHUNK) {
        int n = f->len - done < CHUNK ? f->len - done : CHUNK;
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, n,
                                       f->at + done);
        __atomic_add_fetch(&writes_out, 1, __ATOMIC_RELAXED);
    }
    f->len = 0;
    if (f->cap > (1 << 20)) { /* a big transaction's buffer is not kept */
        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
    }
    return rc;
}

/* Closed: a commit's run was synced before its write lock went, so one
 * still here was abandoned (see the top) and is dropped, not written. */
static int w_close(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    if (f->db) f->db->wal = NULL;
    if (f->len) __atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
    return f->real->pMethods->xClose(f->real);
}

static int w_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc ? rc : f->real->pMethods->xRead(f->real, out, amt, off);
}

/* Room for 'more' bytes in the run; 0 if it would pass RUN_MAX or memory
 * ran out (then the caller writes through). */
static int grow(wal_file *f, int more)
{
    int want = f->cap ? f->cap : 64 << 10;
    if (f->len + more > RUN_MAX) return 0;
    while (want < f->len + more) want *= 2;
    if (want == f->cap) return 1;
    char *nb = realloc(f->buf, (size_t)want);
    if (!nb) return 0;
    f->buf = nb;
    f->cap = want;
    return 1;
}

static int w_write(sqlite3_file *p, const void *data, int amt,
                   sqlite3_int64 off)
{
    wal_file *f = (wal_file *)p;
    int rc;
    __atomic_add_fetch(&writes_in, 1, __ATOMIC_RELAXED);
    if (f->len && off == f->at + f->len && grow(f, amt)) {
        memcpy(f->buf + f->len, data, (size_t)amt);
        f->len += amt;
        return SQLITE_OK;
    }
    if ((rc = flush(f))) return rc;
    if (amt <= CHUNK && grow(f, amt)) {
        memcpy(f->buf, data, (size_t)amt);
        f->at = off;
        f->len = amt;
        return SQLITE_OK;
    }
    __atomic_add_fetch(&writes_out, 1, __ATOMIC_RELAXED);
    return f->real->pMethods->xWrite(f->real, data, amt, off);
}

static int w_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int w_sync(sqlite3_file *p, int flags)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int w_size(sqlite3_file *p, sqlite3_int64 *size)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f);
    return rc ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int w_lock(sqlite3_file *p, int lock)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xLock(f->real, lock);
}

static int w_unlock(sqlite3_file *p, int lock)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xUnlock(f->real, lock);
}

static int w_reserved(sqlite3_file *p, int *out)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int w_fcntl(sqlite3_file *p, int op, void *arg)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f); /* whatever it asks may look at the file */
    return rc ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int w_sector(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xSectorSize(f->real);
}

static int w_devchar(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* A WAL has no shared memory or mapping of its own (the -shm belongs to
 * the database file), so version 1 of the methods is all it needs. */
static const sqlite3_io_methods wal_methods = {
    1, w_close, w_read, w_write, w_truncate, w_sync, w_size, w_lock,
    w_unlock, w_reserved, w_fcntl, w_sector, w_devchar,
    NULL, NULL, NULL, NULL, NULL, NULL
};

/* ---- the database file: the default one's, but for the write lock */

#define DB (((db_file *)p)->real)

static int d_close(sqlite3_file *p)
{
    db_file *f = (db_file *)p, **at;
    pthread_mutex_lock(&reg_mu);
    for (at = &registry; *at && *at != f; at = &(*at)->next)
        ;
    if (*at) *at = f->next;
    pthread_mutex_unlock(&reg_mu);
    if (f->wal) f->wal->db = NULL;
    return DB->pMethods->xClose(DB);
}

static int d_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off)
{
    return DB->pMethods->xRead(DB, out, amt, off);
}

static int d_write(sqlite3_file *p, const void *data, int amt,
                   sqlite3_int64 off)
{
    return DB->pMethods->xWrite(DB, data, amt, off);
}

static int d_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    return DB->pMethods->xTruncate(DB, size);
}

static int d_sync(sqlite3_file *p, int flags)
{
    return DB->pMethods->xSync(DB, flags);
}

static int d_size(sqlite3_file *p, sqlite3_int64 *size)
{
    return DB->pMethods->xFileSize(DB, size);
}

static int d_lock(sqlite3_file *p, int lock)
{
    return DB->pMethods->xLock(DB, lock);
}

static int d_unlock(sqlite3_file *p, int lock)
{
    return DB->pMethods->xUnlock(DB, lock);
}

static int d_reserved(sqlite3_file *p, int *out)
{
    return DB->pMethods->xCheckReservedLock(DB, out);
}

static int d_fcntl(sqlite3_file *p, int op, void *arg)
{
    return DB->pMethods->xFileControl(DB, op, arg);
}

static int d_sector(sqlite3_file *p)
{
    return DB->pMethods->xSectorSize(DB);
}

static int d_devchar(sqlite3_file *p)
{
    return DB->pMethods->xDeviceCharacteristics(DB);
}

static int d_shm_map(sqlite3_file *p, int pg, int pgsz, int extend,
                     void volatile **out)
{
    return DB->pMethods->xShmMap(DB, pg, pgsz, extend, out);
}

/* Slot 0 of the WAL index's locks is the write lock (WAL_WRITE_LOCK in
 * SQLite's wal.c). Released: drop what an abandoned transaction left. */
static int d_shm_lock(sqlite3_file *p, int ofst, int n, int flags)
{
    db_file *f = (db_file *)p;
    int rc = DB->pMethods->xShmLock(DB, ofst, n, flags);
    if (rc == SQLITE_OK && ofst == 0 && f->wal && f->wal->len &&
        flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE)) {
        f->wal->len = 0;
        __atomic_add_fetch(&dropped, 1, __ATOMIC_RELAXED);
    }
    return rc;
}

static void d_shm_barrier(sqlite3_file *p)
{
    DB->pMethods->xShmBarrier(DB);
}

static int d_shm_unmap(sqlite3_file *p, int del)
{
    return DB->pMethods->xShmUnmap(DB, del);
}

static int d_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **out)
{
    return DB->pMethods->xFetch(DB, off, amt, out);
}

static int d_unfetch(sqlite3_file *p, sqlite3_int64 off, void *page)
{
    return DB->pMethods->xUnfetch(DB, off, page);
}

#undef DB

static const sqlite3_io_methods db_methods = {
    3, d_close, d_read, d_write, d_truncate, d_sync, d_size, d_lock,
    d_unlock, d_reserved, d_fcntl, d_sector, d_devchar,
    d_shm_map, d_shm_lock, d_shm_barrier, d_shm_unmap, d_fetch, d_unfetch
};

/* ---- the VFS ------------------------------------------------------------ */

/* A file we cannot watch: close the default VFS's file opened at 'real' and
 * open 'name' again as its own object in the whole slot 'p'. */
static int open_plain(sqlite3_file *real, const char *name, sqlite3_file *p,
                      int flags, int *out_flags)
{
    real->pMethods->xClose(real);
    memset(p, 0, (size_t)vfs.szOsFile);
    return base_vfs->xOpen(base_vfs, name, p, flags, out_flags);
}

static int open_db(const char *name, sqlite3_file *p, int flags,
                   int *out_flags)
{
    db_file *f = (db_file *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    f->name = name;
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        f->base.pMethods = NULL;
        return rc;
    }
    if (f->real->pMethods->iVersion < 3) /* no shared memory to watch */
        return open_plain(f->real, name, p, flags, out_flags);
    f->base.pMethods = &db_methods;
    pthread_mutex_lock(&reg_mu);
    f->next = registry;
    registry = f;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static int open_wal(const char *name, sqlite3_file *p, int flags,
                    int *out_flags)
{
    wal_file *f = (wal_file *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        f->base.pMethods = NULL;
        return rc;
    }
    f->base.pMethods = &wal_methods;
    const char *db = sqlite3_filename_database(name);
    pthread_mutex_lock(&reg_mu);
    for (db_file *d = registry; d; d = d->next)
        if (d->name == db) {
            d->wal = f;
            f->db = d;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    if (!f->db) /* no write lock to watch: buffering would be unsafe */
        return open_plain(f->real, name, p, flags, out_flags);
    return rc;
}

/* Files other than the main database and its WAL are opened by the default
 * VFS into our slot (it is larger than theirs), so they carry its methods,
 * not ours. */
static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *p,
                  int flags, int *out_flags)
{
    (void)v;
    if ((flags & SQLITE_OPEN_MAIN_DB) && name)
        return open_db(name, p, flags, out_flags);
    if ((flags & SQLITE_OPEN_WAL) && name)
        return open_wal(name, p, flags, out_flags);
    return base_vfs->xOpen(base_vfs, name, p, flags, out_flags);
}

static int v_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base_vfs->xDlOpen(base_vfs, name);
}

static void v_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    base_vfs->xDlError(base_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base_vfs->xDlSym(base_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    base_vfs->xDlClose(base_vfs, h);
}

static int v_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xRandomness(base_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return base_vfs->xSleep(base_vfs, us);
}

static int v_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return base_vfs->xCurrentTime(base_vfs, out);
}

static int v_lasterr(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return base_vfs->xGetLastError(base_vfs, n, out);
}

static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

static void register_vfs(void)
{
    base_vfs = sqlite3_vfs_find(NULL);
    if (!base_vfs || base_vfs->iVersion < 2 || !base_vfs->xCurrentTimeInt64)
        return;

    vfs.iVersion = 2;
    vfs.szOsFile = (int)(sizeof(wal_file) > sizeof(db_file)
                             ? sizeof(wal_file) : sizeof(db_file)) +
                   base_vfs->szOsFile;
    vfs.mxPathname = base_vfs->mxPathname;
    vfs.zName = STORE__VFS;
    vfs.xOpen = v_open;
    vfs.xDelete = v_delete;
    vfs.xAccess = v_access;
    vfs.xFullPathname = v_fullpath;
    vfs.xDlOpen = v_dlopen;
    vfs.xDlError = v_dlerror;
    vfs.xDlSym = v_dlsym;
    vfs.xDlClose = v_dlclose;
    vfs.xRandomness = v_random;
    vfs.xSleep = v_sleep;
    vfs.xCurrentTime = v_time;
    vfs.xGetLastError = v_lasterr;
    vfs.xCurrentTimeInt64 = v_time64;
    registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *store__vfs(void)
{
    pthread_once(&once, register_vfs);
    return registered ? STORE__VFS : NULL;
}

void store__vfs_counts(uint64_t *in, uint64_t *out, uint64_t *drops)
{
    *in = __atomic_load_n(&writes_in, __ATOMIC_RELAXED);
    *out = __atomic_load_n(&writes_out, __ATOMIC_RELAXED);
    if (drops) *drops = __atomic_load_n(&dropped, __ATOMIC_RELAXED);
}
