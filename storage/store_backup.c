/* store_backup.c -- online backup of a live database.
 *
 * store_backup copies a consistent snapshot of the database while servers
 * keep writing (VACUUM INTO reads in one WAL read transaction), to a
 * temporary file that is fsynced and then hard-linked into place, so a
 * crash never leaves a half-written file under the requested name and an
 * existing file is never overwritten. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/pg/pg.h"
#include "storage/store_int.h"

static int errno_err(int e)
{
    switch (e) {
    case ENOSPC: case EDQUOT: case EFBIG: return STORE_EFULL;
    case EROFS: case EACCES: case EPERM: return STORE_EREADONLY;
    case EEXIST: return STORE_EEXIST;
    case ENOENT: case ENOTDIR: return STORE_ECANTOPEN;
    default: return STORE_EIO;
    }
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC), rc;
    if (fd < 0) return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    int rc;
    if (!copy) return -1;
    rc = fsync_path(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    return rc;
}

static int vacuum_into(store *s, const char *tmp, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, "VACUUM INTO ?1", -1, &st, NULL);
    if (!rc) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    if (rc) store__seterr(err, errlen, "backup to %s failed: %s", tmp,
                          sqlite3_errmsg(s->db));
    return store__err(rc);
}

/* fsync the copy, link it to its final name, fsync the directory. */
static int publish(const char *tmp, const char *dest, char *err,
                   size_t errlen)
{
    if (fsync_path(tmp, O_RDONLY) != 0) {
        store__seterr(err, errlen, "cannot flush %s: %s", tmp,
                      strerror(errno));
        return errno_err(errno);
    }
    if (link(tmp, dest) != 0) {
        store__seterr(err, errlen, "cannot create %s: %s", dest,
                      strerror(errno));
        return errno_err(errno);
    }
    if (fsync_dir_of(dest) != 0) {
        store__seterr(err, errlen, "cannot flush the directory of %s: %s",
                      dest, strerror(errno));
        unlink(dest);
        return errno_err(errno);
    }
    return STORE_OK;
}

int store_backup(store *s, const char *dest, char *err, size_t errlen)
{
    struct stat sb;
    char *tmp;
    int fd, rc;
    if (!s || !dest || !*dest) return STORE_EINVAL;
    if (s->pg) {
        store__seterr(err, errlen, "a PostgreSQL store is backed up by"
                      " PostgreSQL: use pg_dump (or continuous archiving);"
                      " chorus backup copies SQLite files only");
        return STORE_EINVAL;
    }
    if (lstat(dest, &sb) == 0) {
        store__seterr(err, errlen, "%s already exists; not overwriting it",
                      dest);
        return STORE_EEXIST;
    }
    if (!(tmp = malloc(strlen(dest) + 16))) return STORE_ENOMEM;
    sprintf(tmp, "%s.part-XXXXXX", dest);
    if ((fd = mkstemp(tmp)) < 0) {
        rc = errno_err(errno);
        store__seterr(err, errlen, "cannot create a file beside %s: %s",
                      dest, strerror(errno));
        free(tmp);
        return rc;
    }
    close(fd); /* VACUUM INTO accepts an empty file */
    rc = vacuum_into(s, tmp, err, errlen);
    if (!rc) rc = publish(tmp, dest, err, errlen);
    unlink(tmp);
    free(tmp);
    return rc;
}
