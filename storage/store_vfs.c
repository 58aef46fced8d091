/* store_vfs.c -- a thin VFS over SQLite's default one that gathers the
 * writes of a commit to the WAL into one write.
 *
 * SQLite appends a commit to the WAL one frame at a time, two write() calls
 * a frame (its 24-byte header, then the page), and then flushes the file.
 * With synchronous=FULL nothing reads those frames before that flush, so
 * this layer keeps consecutive WAL writes in a buffer and issues them as
 * one write just before the flush: measured on this project's disk, 8
 * frames as 16 writes took 59-65 µs, as one 13-16 µs, and the fdatasync
 * after it was no slower.
 *
 * Invariant: every byte SQLite wrote reaches the file, in SQLite's order,
 * before any read, size query, truncation, sync or close of that file, and
 * before a write that does not continue the buffered run. So the file
 * holds what SQLite believes it holds whenever anyone can look; only the
 * moment of the write() moves, never past the sync a commit waits for.
 *
 * Only "-wal" files are wrapped; every other file is the default VFS's own
 * object. Used only by connections with synchronous=FULL (store_open): with
 * NORMAL a commit does not sync the WAL, so nothing would flush the buffer
 * before other connections read the commit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

#define RUN_MAX (4 << 20) /* a longer run is written out as it grows */
#define CHUNK (64 << 10)  /* the unix VFS takes writes under 128 KiB only */

typedef struct wal_file {
    sqlite3_file base;    /* our methods */
    sqlite3_file *real;   /* the default VFS's file, just after this struct */
    char *buf;            /* SQLite's writes from 'at', not yet written */
    sqlite3_int64 at;
    int len, cap;
} wal_file;

static sqlite3_vfs vfs;
static sqlite3_vfs *base_vfs;
static uint64_t writes_in, writes_out; /* atomics: for tests and bench */

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
    return rc;
}

static int w_close(sqlite3_file *p)
{
    wal_file *f = (wal_file *)p;
    int rc = flush(f), rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc ? rc : rc2;
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

/* Files other than a WAL are opened by the default VFS into our slot (it
 * is larger than theirs), so they carry its methods, not ours. */
static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *p,
                  int flags, int *out_flags)
{
    (void)v;
    if (!(flags & SQLITE_OPEN_WAL))
        return base_vfs->xOpen(base_vfs, name, p, flags, out_flags);
    wal_file *f = (wal_file *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    f->base.pMethods = rc == SQLITE_OK ? &wal_methods : NULL;
    return rc;
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
    vfs.szOsFile = (int)sizeof(wal_file) + base_vfs->szOsFile;
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

void store__vfs_counts(uint64_t *in, uint64_t *out)
{
    *in = __atomic_load_n(&writes_in, __ATOMIC_RELAXED);
    *out = __atomic_load_n(&writes_out, __ATOMIC_RELAXED);
}
