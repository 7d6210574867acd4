/* The SQLite driver (driver.h) under the portable SQL layer (sql.c).
 *
 * A connection per thread (sql.c keeps them), WAL mode, a busy handler that
 * waits up to 5 s for the write lock (in short steps: see on_busy), foreign
 * keys on. Statements are SQLite's own, prepared persistent.
 *
 * Durability rides on the audit log. Connections commit with
 * synchronous=NORMAL: the WAL is written, not fsynced. An audit append
 * commits, releases the write lock, and only then fdatasyncs the WAL file
 * (sync_wal) before it returns. Every change that matters is followed by its
 * audit event, and the response (or the command) waits for that append; its
 * fdatasync makes durable every frame written before it, the change's
 * included. So a token's replay-cache entry or a revocation costs a write,
 * not an fsync; the group commit of the audit writer pays one fsync for all
 * of them; and no writer waits for the write lock while a disk flushes.
 * (A checkpoint in NORMAL mode syncs the WAL before it copies frames into
 * the database, and the database before the WAL is reused.) Every transaction
 * that writes starts with BEGIN IMMEDIATE, so that it takes the write lock
 * (waiting up to the busy timeout) before it reads: no deadlock between two
 * readers that both want to upgrade, and the audit chain is serialised
 * across threads and processes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/migrations.h"
#include "core/log.h"
#include "store/driver.h"

#define BUSY_TIMEOUT_MS 5000
/* What is kept of the WAL file when the log restarts (journal_size_limit):
 * the log is restarted before it passes CKPT_RESTART_BYTES, so under load
 * the file is reused in place (a write into an existing block needs no
 * metadata flush) and a burst does not leave more than this behind. */
#define WAL_KEEP_BYTES 16777216
#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const sq_override[Q_COUNT] = {
    /* takes the write lock before the first read: no deadlock between two
       readers that both want to upgrade, and the audit chain is serialised
       across threads and processes (so Q_AUDIT_LOCK has nothing to do) */
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    /* a read scope: the snapshot is taken by its first read, and the read
       lock held until the scope's COMMIT */
    [Q_READ_BEGIN] = "BEGIN DEFERRED",
    [Q_MIGRATIONS_EXISTS] = "SELECT COUNT(*) FROM sqlite_master WHERE type='table' "
                            "AND name='schema_migrations'",
    [Q_CATALOG_TABLES] = "SELECT name FROM sqlite_master WHERE type='table' "
                         "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    [Q_CATALOG_COLUMNS] = "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid",
};

static const mdt_sql_dialect sqlite_dialect = {
    "BLOB", "INTEGER PRIMARY KEY",
    {"json_extract(", ",'$.", "')"},
    {"json_extract(", ",'$.", "')"},
    {"(CASE WHEN json_extract(", ",'$.", "')=1 THEN 1 ELSE 0 END)"}, /* true reads as 1 */
};

typedef struct sq_ctx {
    char *path;
    pthread_mutex_t mu; /* guards the checkpointer's state */
    /* the checkpointer (mdt_store_background_start) */
    atomic_bool ckpt_running; /* read by conn_setup without the lock */
    bool ckpt_stop;
    pthread_t ckpt_thread;
    pthread_cond_t ckpt_cv;
} sq_ctx;

struct mdt_db_conn {
    sqlite3 *db;
    sq_ctx *ctx;
    int wal_fd; /* the -wal file, opened by the first audit append; -1 */
};

typedef struct {
    mdt_db_stmt base; /* first */
    sqlite3_stmt *st;
} sq_stmt;

static const mdt_db_driver sqlite_driver;

static sqlite3_stmt *ST(mdt_db_stmt *st) { return ((sq_stmt *)st)->st; }

/* ---------------------------------------------------------------- errors */

/* Maps an SQLite result code (extended codes are on) to our result. Call it
 * before the statement is reset: sqlite3_errmsg describes the last call. */
static mdt_rc sql_fail(sqlite3 *db, int code, const char *what, mdt_err *err)
{
    const char *m = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);

    switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "database busy", "%s: %s", what, m);
    case SQLITE_CANTOPEN:
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "database cannot be opened", "%s: %s", what, m);
    case SQLITE_NOMEM:
        return mdt_failf(err, MDT_ERR_NOMEM, "out of memory", "%s: %s", what, m);
    case SQLITE_CONSTRAINT:
        if (code == SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLITE_CONSTRAINT_UNIQUE)
            return mdt_failf(err, MDT_ERR_CONFLICT, "already exists", "%s: %s", what, m);
        if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
            return mdt_failf(err, MDT_ERR_NOT_FOUND, "referenced record not found", "%s: %s",
                             what, m);
        break;
    default:
        break;
    }
    return mdt_failf(err, MDT_ERR_STORE, "database error", "%s: %s", what, m);
}

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------------ connections */

static void sq_disconnect(mdt_db_conn *c)
{
    if (!c)
        return;
    sqlite3_close_v2(c->db);
    if (c->wal_fd >= 0)
        close(c->wal_fd);
    free(c);
}

static mdt_rc conn_exec(mdt_db_conn *c, const char *sql, const char *what, mdt_err *err)
{
    int r = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

    return r == SQLITE_OK ? MDT_OK : sql_fail(c->db, r, what, err);
}

/* Waiting for the write lock. SQLite's own busy timeout sleeps 1, 2, 5, 10,
 * ... 100 ms between tries; the lock is mostly held for one commit (well
 * under a millisecond, plus the fsync of a group commit), so those sleeps
 * would set the pace of every writer. Try again after 50 µs at first, backing
 * off to 2 ms, and give up after BUSY_TIMEOUT_MS. */
static int on_busy(void *ctx, int count)
{
    static const long step_us[] = {50, 50, 100, 100, 200, 200, 500, 1000, 2000};
    enum { STEPS = MDT_ARRAY_LEN(step_us) };
    long waited_us = 0;

    (void)ctx;
    for (int i = 0; i < count && i < STEPS; i++)
        waited_us += step_us[i];
    if (count > STEPS)
        waited_us += (long)(count - STEPS) * step_us[STEPS - 1];
    if (waited_us >= (long)BUSY_TIMEOUT_MS * 1000)
        return 0;
    usleep((useconds_t)step_us[count < STEPS ? count : STEPS - 1]);
    return 1;
}

static mdt_rc conn_setup(mdt_db_conn *c, mdt_err *err)
{
    sqlite3_stmt *st = NULL;
    mdt_rc rc;
    int r;

    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_handler(c->db, on_busy, NULL);
    rc = conn_exec(c,
                   "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; "
                   "PRAGMA journal_size_limit=" STR(WAL_KEEP_BYTES),
                   "pragma", err);
    if (rc == MDT_OK && atomic_load(&c->ctx->ckpt_running))
        rc = conn_exec(c, "PRAGMA wal_autocheckpoint=0", "pragma", err);
    if (rc != MDT_OK)
        return rc;
    r = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        rc = sql_fail(c->db, r, "journal_mode", err);
    } else if (!mdt_str_eq((const char *)sqlite3_column_text(st, 0), "wal")) {
        rc = mdt_failf(err, MDT_ERR_STORE, "database error",
                       "journal_mode: WAL refused (mode is %s)", sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return rc;
}

static mdt_rc sq_connect(void *ctx, mdt_db_conn **out, mdt_err *err)
{
    sq_ctx *s = ctx;
    mdt_db_conn *c = calloc(1, sizeof(*c));
    mdt_rc rc;
    int r;

    *out = NULL;
    if (!c)
        return nomem(err);
    c->ctx = s;
    c->wal_fd = -1;
    r = sqlite3_open_v2(s->path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "database cannot be opened", "%s: %s", s->path,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(r));
        sq_disconnect(c);
        return rc;
    }
    if ((rc = conn_setup(c, err)) != MDT_OK) {
        sq_disconnect(c);
        return rc;
    }
    *out = c;
    return MDT_OK;
}

/* ------------------------------------------------------------- statements */

static mdt_rc sq_prepare(mdt_db_conn *c, int id, const char *sql, mdt_db_stmt **out,
                         mdt_err *err)
{
    sq_stmt *s = malloc(sizeof(*s));
    int r;

    *out = NULL;
    if (!s)
        return nomem(err);
    s->base.drv = &sqlite_driver;
    r = sqlite3_prepare_v3(c->db, sql, -1, id >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &s->st, NULL);
    if (r != SQLITE_OK) {
        free(s);
        return sql_fail(c->db, r, "prepare", err);
    }
    *out = &s->base;
    return MDT_OK;
}

static void sq_finalize(mdt_db_stmt *st)
{
    if (!st)
        return;
    sqlite3_finalize(ST(st));
    free(st);
}

static int sq_bind_int64(mdt_db_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(ST(st), i, v);
}

static int sq_bind_text(mdt_db_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(ST(st), i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(ST(st), i);
}

static int sq_bind_blob(mdt_db_stmt *st, int i, const void *p, size_t n)
{
    return sqlite3_bind_blob64(ST(st), i, p, n, SQLITE_STATIC);
}

static int sq_bind_null(mdt_db_stmt *st, int i)
{
    return sqlite3_bind_null(ST(st), i);
}

/* Maps the error before the statement is reset: sqlite3_errmsg describes
 * the last call. */
static mdt_rc sq_step(mdt_db_stmt *st, bool *row, const char *what, mdt_err *err)
{
    int r = sqlite3_step(ST(st));

    *row = r == SQLITE_ROW;
    if (r == SQLITE_ROW || r == SQLITE_DONE)
        return MDT_OK;
    return sql_fail(sqlite3_db_handle(ST(st)), r, what, err);
}

static int64_t sq_col_int64(mdt_db_stmt *st, int i)
{
    return sqlite3_column_int64(ST(st), i);
}

static const char *sq_col_text(mdt_db_stmt *st, int i, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(ST(st), i);

    if (len)
        *len = t ? (size_t)sqlite3_column_bytes(ST(st), i) : 0;
    return (const char *)t;
}

static const void *sq_col_blob(mdt_db_stmt *st, int i, size_t *len)
{
    const void *p = sqlite3_column_blob(ST(st), i);

    *len = p ? (size_t)sqlite3_column_bytes(ST(st), i) : 0;
    return p;
}

static bool sq_col_null(mdt_db_stmt *st, int i)
{
    return sqlite3_column_type(ST(st), i) == SQLITE_NULL;
}

static void sq_reset(mdt_db_stmt *st)
{
    sqlite3_reset(ST(st));
    sqlite3_clear_bindings(ST(st));
}

static bool sq_busy(mdt_db_stmt *st)
{
    return sqlite3_stmt_busy(ST(st));
}

static int64_t sq_changes(mdt_db_conn *c)
{
    return sqlite3_changes(c->db);
}

static bool sq_in_tx(mdt_db_conn *c)
{
    return !sqlite3_get_autocommit(c->db);
}

static bool sq_readonly(mdt_db_stmt *st)
{
    return sqlite3_stmt_readonly(ST(st));
}

static mdt_rc sq_fail(mdt_db_conn *c, const char *what, mdt_err *err)
{
    return sql_fail(c->db, sqlite3_errcode(c->db), what, err);
}

static mdt_rc sq_exec(mdt_db_conn *c, const char *sql, const char *what, mdt_err *err)
{
    return conn_exec(c, sql, what, err);
}

/* ------------------------------------------------------------ checkpoints */

static mdt_rc query_int(mdt_db_conn *c, const char *sql, int *out, mdt_err *err);

#define CKPT_INTERVAL_MS 250
/* A log longer than this is restarted even if that means waiting (briefly)
 * for the readers still in it. */
#define CKPT_RESTART_BYTES (8 * 1024 * 1024)
#define CKPT_WAIT_TRIES 100  /* of CKPT_WAIT_STEP_US: 50 ms */
#define CKPT_WAIT_STEP_US 500
#define CKPT_BACKOFF_MAX 16  /* ticks: 4 s */

/* The checkpointer's busy handler. A RESTART or TRUNCATE checkpoint holds
 * the write lock while it waits for readers to leave the log, so it waits
 * for at most 50 ms (readers are short: one statement or one transaction)
 * and gives up rather than hold writers up. */
static int on_busy_ckpt(void *ctx, int count)
{
    (void)ctx;
    if (count >= CKPT_WAIT_TRIES)
        return 0;
    usleep(CKPT_WAIT_STEP_US);
    return 1;
}

typedef struct {
    int64_t page;   /* the database's page size */
    int last_log;   /* frames in the log at the previous tick */
    int backoff;    /* ticks between attempts after a failed one */
    int wait;       /* ticks left before the next attempt */
} ckpt_state;

/* One tick of the checkpointer. PASSIVE first: it copies what it can into
 * the database without waiting for anyone. Under continuous load some reader
 * is always in the log, so SQLite never restarts it and the file only grows
 * (checkpoint starvation). So when the log is longer than
 * CKPT_RESTART_BYTES, or everything in it is already copied, RESTART copies
 * the rest and waits for the readers still in the log: the next commit
 * writes from the start of the file again (trimming it to WAL_KEEP_BYTES).
 * When nothing was written since the previous tick (idle), TRUNCATE empties
 * the file. If a long reader (an export, say) keeps either from finishing,
 * later attempts back off, up to CKPT_BACKOFF_MAX ticks apart, so that
 * writers are held up for at most 50 ms every few seconds. */
static void ckpt_tick(mdt_db_conn *c, ckpt_state *k)
{
    int log = 0, copied = 0, r, mode = SQLITE_CHECKPOINT_RESTART;
    bool idle;

    if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) !=
        SQLITE_OK)
        return;
    idle = log == k->last_log;
    k->last_log = log;
    if (log <= 0 || ((int64_t)log * k->page < CKPT_RESTART_BYTES && copied < log))
        return;
    if (k->wait > 0) {
        k->wait--;
        return;
    }
    if (idle && copied == log)
        mode = SQLITE_CHECKPOINT_TRUNCATE;
    r = sqlite3_wal_checkpoint_v2(c->db, NULL, mode, NULL, NULL);
    if (r == SQLITE_OK) {
        k->backoff = 0;
        k->last_log = mode == SQLITE_CHECKPOINT_TRUNCATE ? 0 : log;
        return;
    }
    k->backoff = k->backoff ? (k->backoff * 2 > CKPT_BACKOFF_MAX ? CKPT_BACKOFF_MAX
                                                                 : k->backoff * 2)
                            : 1;
    k->wait = k->backoff;
    if ((r & 0xff) != SQLITE_BUSY && (r & 0xff) != SQLITE_LOCKED)
        MDT_WARN("checkpointer: %s", sqlite3_errmsg(c->db));
}

/* Checkpoints the WAL every CKPT_INTERVAL_MS (ckpt_tick), on its own
 * connection: the work SQLite would otherwise do inside whichever request's
 * commit crossed the auto-checkpoint size. */
/* Checkpoints the WAL every CKPT_INTERVAL_MS (ckpt_tick), on its own
 * connection: the work SQLite would otherwise do inside whichever request's
 * commit crossed the auto-checkpoint size. */
static void *ckpt_main(void *arg)
{
    sq_ctx *s = arg;
    mdt_db_conn *c = NULL;
    ckpt_state k = {.page = 4096};
    int page = 0;
    mdt_err err;

    if (sq_connect(s, &c, &err) != MDT_OK || query_int(c, "PRAGMA page_size", &page, &err) != MDT_OK)
        MDT_WARN("checkpointer: %s", mdt_err_text(&err));
    if (c)
        sqlite3_busy_handler(c->db, on_busy_ckpt, NULL);
    if (page > 0)
        k.page = page;
    pthread_mutex_lock(&s->mu);
    while (!s->ckpt_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += CKPT_INTERVAL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->ckpt_cv, &s->mu, &ts);
        if (s->ckpt_stop || !c)
            continue;
        pthread_mutex_unlock(&s->mu);
        ckpt_tick(c, &k);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    sq_disconnect(c);
    return NULL;
}

static mdt_rc sq_background_start(void *ctx, mdt_err *err)
{
    sq_ctx *s = ctx;
    mdt_rc rc = MDT_OK;

    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->ckpt_running)) {
        s->ckpt_stop = false;
        /* connections opened from now on leave checkpoints to the thread */
        atomic_store(&s->ckpt_running, true);
        if (pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) != 0) {
            atomic_store(&s->ckpt_running, false);
            rc = mdt_fail(err, MDT_ERR_INTERNAL, "cannot start the checkpoint thread");
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void ckpt_stop(sq_ctx *s)
{
    pthread_mutex_lock(&s->mu);
    bool running = atomic_load(&s->ckpt_running);
    s->ckpt_stop = true;
    pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->mu);
    if (running)
        pthread_join(s->ckpt_thread, NULL);
    atomic_store(&s->ckpt_running, false);
}

static mdt_rc query_int(mdt_db_conn *c, const char *sql, int *out, mdt_err *err)
{
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    mdt_rc rc = MDT_OK;

    if (r == SQLITE_OK)
        r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = sql_fail(c->db, r, sql, err);
    sqlite3_finalize(st);
    return rc;
}

/* ------------------------------------------------------------- durability */

/* Makes every frame in the WAL durable, outside the write lock (see the top). */
static mdt_rc sq_durable(mdt_db_conn *c, mdt_err *err)
{
    if (c->wal_fd < 0) {
        const char *db = sqlite3_db_filename(c->db, "main");
        char path[4096];
        if (!db || snprintf(path, sizeof(path), "%s-wal", db) >= (int)sizeof(path) ||
            (c->wal_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return mdt_failf(err, MDT_ERR_STORE, "storage error", "cannot open the WAL of %s: %s",
                             db ? db : "?", strerror(errno));
    }
    if (fdatasync(c->wal_fd) != 0)
        return mdt_failf(err, MDT_ERR_STORE, "storage error", "fdatasync of the WAL: %s",
                         strerror(errno));
    return MDT_OK;
}

/* --------------------------------------------------------------- lifecycle */

/* The directory that will hold path must exist: we never create it. */
static mdt_rc check_dir(const char *path, mdt_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    struct stat sb;
    mdt_rc rc = MDT_OK;

    if (!dir)
        return nomem(err);
    if (stat(dir, &sb) != 0)
        rc = mdt_failf(err, MDT_ERR_CONFIG, "database directory does not exist", "%s: %s", dir,
                       strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        rc = mdt_failf(err, MDT_ERR_CONFIG, "database directory does not exist",
                       "%s: not a directory", dir);
    free(dir);
    return rc;
}

/* Creates the file owner-only before SQLite does (it would use 0644): it
 * holds credential hashes and sealed keys. WAL and shm files inherit the
 * mode. */
static mdt_rc precreate(const char *path, mdt_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "database cannot be opened", "%s: %s", path,
                         strerror(errno));
    close(fd);
    return MDT_OK;
}

static void sq_ctx_free(void *ctx)
{
    sq_ctx *s = ctx;

    if (!s)
        return;
    ckpt_stop(s);
    pthread_cond_destroy(&s->ckpt_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static const mdt_db_driver sqlite_driver = {
    .name = "sqlite",
    .override = sq_override,
    .dialect = &sqlite_dialect,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_int64 = sq_col_int64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .col_null = sq_col_null,
    .reset = sq_reset,
    .busy = sq_busy,
    .changes = sq_changes,
    .in_tx = sq_in_tx,
    .readonly = sq_readonly,
    .fail = sq_fail,
    .exec = sq_exec,
    .durable = sq_durable,
    .background_start = sq_background_start,
    .ctx_free = sq_ctx_free,
};

mdt_rc mdt_store__sqlite_open(const char *path, mdt_store **out, mdt_err *err)
{
    sq_ctx *s = NULL;
    mdt_rc rc;

    *out = NULL;
    if (!*path)
        return mdt_fail(err, MDT_ERR_CONFIG, "sqlite: database path is empty");
    if (strcmp(path, ":memory:") == 0)
        return mdt_fail(err, MDT_ERR_CONFIG, "sqlite: in-memory databases are not supported");
    if ((rc = check_dir(path, err)) != MDT_OK || (rc = precreate(path, err)) != MDT_OK)
        return rc;
    if (!(s = calloc(1, sizeof(*s))) || !(s->path = strdup(path))) {
        free(s);
        return nomem(err);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->ckpt_cv, NULL);
    return mdt_store__sql_open(&sqlite_driver, s, out, err);
}
