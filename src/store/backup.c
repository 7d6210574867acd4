/* `mandate db backup`: an online copy of a SQLite database. The copy is
 * taken through SQLite's backup API on a read transaction of its own, so the
 * server keeps serving (WAL readers do not block the writer) and the copy is
 * one consistent snapshot: the audit chain in it verifies up to its last
 * event. It is written beside the destination, checked, made durable and
 * only then renamed into place, so that a crash never leaves a half copy
 * under the name asked for. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

static mdt_rc sq_err(sqlite3 *db, const char *what, const char *path, mdt_err *err)
{
    return mdt_failf(err, MDT_ERR_UNAVAILABLE, "database backup failed", "%s %s: %s", what, path,
                     db ? sqlite3_errmsg(db) : "out of memory");
}

/* Makes the file's contents and its name durable. */
static mdt_rc sync_path(const char *path, mdt_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    mdt_rc rc = MDT_OK;

    if (fd < 0 || fsync(fd) != 0)
        rc = mdt_failf(err, MDT_ERR_IO, "database backup failed", "fsync %s: %s", path,
                       strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

static mdt_rc sync_dir_of(const char *path, mdt_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    mdt_rc rc;

    if (!dir)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    rc = sync_path(dir, err);
    free(dir);
    return rc;
}

/* One pass of the backup API over the whole database, then an integrity check
 * of the copy, read back through a connection of its own. */
static mdt_rc copy_into(const char *src_path, const char *tmp, mdt_err *err)
{
    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b;
    sqlite3_stmt *st = NULL;
    mdt_rc rc = MDT_OK;
    int r;

    if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = sq_err(src, "open", src_path, err);
        goto out;
    }
    sqlite3_busy_timeout(src, 5000);
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = sq_err(dst, "open", tmp, err);
        goto out;
    }
    if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
        rc = sq_err(dst, "copy into", tmp, err);
        goto out;
    }
    do {
        r = sqlite3_backup_step(b, -1);
        if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
            sqlite3_sleep(20);
    } while (r == SQLITE_OK || r == SQLITE_BUSY || r == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
    if (r != SQLITE_DONE) {
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "database backup failed", "copy %s: %s",
                       src_path, sqlite3_errstr(r));
        goto out;
    }
    if (sqlite3_prepare_v2(dst, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = sq_err(dst, "check", tmp, err);
        goto out;
    }
    if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "database backup failed",
                       "the copy in %s fails its integrity check: %s", tmp,
                       (const char *)sqlite3_column_text(st, 0));
out:
    sqlite3_finalize(st);
    if (dst && sqlite3_close(dst) != SQLITE_OK && rc == MDT_OK)
        rc = sq_err(dst, "close", tmp, err);
    sqlite3_close(src);
    return rc;
}

mdt_rc mdt_store_backup(const char *url, const char *dest, mdt_err *err)
{
    static const char prefix[] = "sqlite:";
    const char *src;
    char *tmp = NULL;
    struct stat sb;
    mdt_rc rc;
    int fd;

    if (!url || strncmp(url, prefix, strlen(prefix)) != 0)
        return mdt_fail(err, MDT_ERR_CONFIG,
                        "db backup copies SQLite databases; back up PostgreSQL with pg_dump or "
                        "its continuous archiving");
    src = url + strlen(prefix);
    if (!dest || !*dest)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "db backup needs a destination file");
    if (lstat(dest, &sb) == 0)
        return mdt_failf(err, MDT_ERR_CONFLICT, "the destination exists", "%s exists: "
                         "choose a new file name", dest);
    if (stat(src, &sb) != 0)
        return mdt_failf(err, MDT_ERR_CONFIG, "database not found", "%s: %s", src,
                         strerror(errno));
    if (!(tmp = malloc(strlen(dest) + sizeof(".partial"))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    snprintf(tmp, strlen(dest) + sizeof(".partial"), "%s.partial", dest);
    /* Owner-only from the start, like the database itself: it holds
     * credential hashes and sealed keys. A leftover .partial of a crashed
     * run is ours to replace. */
    unlink(tmp);
    if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = mdt_failf(err, MDT_ERR_IO, "database backup failed", "create %s: %s", tmp,
                       strerror(errno));
        goto out;
    }
    close(fd);
    if ((rc = copy_into(src, tmp, err)) != MDT_OK || (rc = sync_path(tmp, err)) != MDT_OK)
        goto out;
    if (link(tmp, dest) != 0) { /* not rename: never replace a file that appeared meanwhile */
        rc = mdt_failf(err, errno == EEXIST ? MDT_ERR_CONFLICT : MDT_ERR_UNAVAILABLE,
                       "database backup failed", "%s: %s", dest, strerror(errno));
        goto out;
    }
    rc = sync_dir_of(dest, err);
out:
    if (tmp)
        unlink(tmp);
    free(tmp);
    return rc;
}
