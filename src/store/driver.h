/* Private to src/store/: the driver interface under the portable SQL layer.
 *
 * sql.c writes every typed operation of store.h once, against this
 * interface: the SQL text (with ?N placeholders), the column maps, the
 * multi-statement transactions, the consume-once logic. It keeps one
 * connection per thread and, per connection, one prepared statement per
 * statement id (prepared on first use, reset and unbound after every use).
 * A driver adds only what differs between database engines: connecting,
 * prepare, bind, step, column, changes, transaction state, the mapping of
 * its errors onto mdt_rc, a durable-commit hook and a background hook. Where
 * a statement's SQL must differ, the driver's override table (indexed by
 * statement id) holds the driver's text; everywhere else the portable text
 * of sql.c runs as is.
 *
 * Error mapping (every driver): busy, locked, serialization failure,
 * deadlock or connection lost -> MDT_ERR_UNAVAILABLE (the server answers
 * 503); unique or primary-key violation -> MDT_ERR_CONFLICT; foreign-key
 * violation -> MDT_ERR_NOT_FOUND; out of memory -> MDT_ERR_NOMEM; anything
 * else -> MDT_ERR_STORE. */
#ifndef MDT_STORE_DRIVER_H
#define MDT_STORE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mdt.h"
#include "store/migrations.h"
#include "store/store_impl.h"

/* Statement ids: the index of the portable SQL table in sql.c and of every
 * driver's override table. */
enum mdt_q {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_PING,
    /* opens a read scope's transaction (store.h, mdt_store_read_begin): a
       deferred BEGIN; no portable text, so a driver without it has no read
       scopes */
    Q_READ_BEGIN,
    Q_CLIENT_INSERT, Q_CLIENT_GET, Q_CLIENT_LIST, Q_CLIENT_UPDATE, Q_CLIENT_DELETE,
    Q_CRED_INSERT, Q_CRED_LIST, Q_CRED_EXPIRE_OTHERS, Q_CRED_TOUCH, Q_CRED_DELETE,
    Q_SCOPE_INSERT, Q_SCOPE_RES_INSERT, Q_SCOPE_GET, Q_SCOPE_RES, Q_SCOPE_LIST,
    Q_TOKEN_INSERT, Q_TOKEN_GET, Q_TOKEN_REVOKE, Q_TOKEN_EXISTS,
    Q_TOKEN_GET_ID, Q_TOKEN_REVOKE_ID, Q_TOKEN_EXISTS_ID,
    Q_JTI_REVOKE, Q_JTI_GET, Q_PURGE_TOKENS, Q_PURGE_JTIS,
    Q_KEY_INSERT, Q_KEY_LIST, Q_KEY_SCHEDULE,
    Q_USER_INSERT, Q_USER_GET, Q_USER_LIST, Q_USER_UPDATE, Q_USER_COUNT,
    Q_CLIENTS_BUMP, Q_CLIENTS_VERSION, Q_CLIENT_VERSION_BUMP, Q_CLIENT_VERSION_OF, Q_CRED_GET, Q_CRED_FIND, Q_JTI_USE, Q_PURGE_USED_JTIS,
    Q_AUDIT_LOCK, Q_AUDIT_LAST, Q_AUDIT_INSERT, Q_AUDIT_FIND_TYPE, Q_AUDIT_EACH, Q_AUDIT_EACH_CLIENT,
    Q_CKPT_ADD, Q_CKPT_LAST, Q_CKPT_EACH,
    Q_IAT_INSERT, Q_IAT_FIND, Q_IAT_GET, Q_IAT_CONSUME,
    Q_REQ_INSERT, Q_REQ_GET, Q_REQ_LIST, Q_REQ_DECIDE, Q_RATE_HIT, Q_PURGE_RATES,
    Q_RATE_PEEK, Q_SESS_INSERT, Q_SESS_GET, Q_SESS_TOUCH, Q_SESS_REVOKE, Q_PURGE_SESSIONS,
    Q_AREQ_INSERT, Q_AREQ_GET, Q_AREQ_TAKE, Q_PURGE_AREQS, Q_CODE_INSERT, Q_CODE_CONSUME, Q_CODE_GET,
    Q_PURGE_CODES, Q_CONSENT_GET, Q_CONSENT_PUT, Q_CONSENT_LIST,
    Q_CONSENT_DELETE, Q_RT_INSERT, Q_RT_GET, Q_RT_CONSUME, Q_RT_REVOKE, Q_RT_REVOKE_JTIS,
    Q_PURGE_RTS,
    Q_RATE_RELEASE, Q_SESS_REVOKE_USER, Q_GRANT_CONSENT, Q_GRANT_CODES_EXPIRE,
    Q_GRANT_CODE_JTIS, Q_GRANT_CODE_FAMILIES, Q_GRANT_RT_JTIS, Q_GRANT_RT_REVOKE,
    Q_CLIENT_TOMBSTONE, Q_CLIENT_DELETED_AT, Q_RT_FAMILY_LOCK,
    Q_DEV_INSERT, Q_DEV_FIND_USER, Q_DEV_BIND, Q_DEV_POLL, Q_DEV_CONSUME, Q_PURGE_DEVICE, Q_DEV_GET,
    Q_REQ_LOCK, Q_VOTE_INSERT, Q_VOTE_ALLOWS, Q_VOTE_LIST, Q_REQ_EXPIRE_DUE,
    Q_VOTE_LIST_FOR, Q_REQ_LIST_PENDING, Q_REQ_COUNT_PENDING,
    Q_OBX_INSERT, Q_OBX_CLAIM, Q_OBX_DELETE, Q_OBX_RETRY, Q_OBX_LIST,
    Q_CIBA_INSERT, Q_CIBA_POLL, Q_CIBA_CONSUME, Q_PURGE_CIBA, Q_CIBA_GET, Q_ONCE_INSERT, Q_ONCE_USE,
    Q_PURGE_ONCE,
    Q_CRED_LAST_USED,
    Q_ENT_INSERT, Q_ENT_LIST, Q_ENT_END, Q_PURGE_ENTS,
    Q_USAGE_SCOPE_UPSERT, Q_USAGE_DAY_UPSERT, Q_USAGE_SCOPE_LIST, Q_USAGE_DAY_LIST,
    Q_PURGE_USAGE, Q_RT_LIVE_COUNT, Q_RT_CLIENT_JTIS, Q_RT_REVOKE_CLIENT,
    Q_REVIEW_INSERT, Q_REVIEW_LIST,
    Q_POLICY_INSERT, Q_POLICY_UPDATE, Q_POLICY_GET, Q_POLICY_LIST, Q_POLICY_DELETE,
    Q_POLICIES_BUMP, Q_POLICIES_VERSION,
    /* the engine's catalogue, for `db copy` (each driver's table): the
       tables (name), and a table's columns (?1: name; rows: name, type) */
    Q_CATALOG_TABLES, Q_CATALOG_COLUMNS,
    /* schema */
    Q_MIGRATIONS_CREATE, Q_MIGRATIONS_EXISTS, Q_SCHEMA_VERSION, Q_MIGRATION_RECORD,
    Q_COUNT
};

typedef struct mdt_db_conn mdt_db_conn; /* a driver's connection */

/* A driver's prepared statement. Every driver's statement struct starts
 * with this header, so that the SQL layer reaches the driver from the
 * statement alone. */
typedef struct mdt_db_driver mdt_db_driver;
typedef struct mdt_db_stmt {
    const mdt_db_driver *drv;
} mdt_db_stmt;

struct mdt_db_driver {
    const char *name;                    /* "sqlite", "postgresql" */
    const char *const *override;         /* [Q_COUNT]: the driver's SQL where it differs; may be NULL */
    const mdt_sql_dialect *dialect;      /* for the migrations' placeholders */

    /* A new connection for the calling thread. ctx: the driver's state,
     * given to mdt_store__sql_open. */
    mdt_rc (*connect)(void *ctx, mdt_db_conn **out, mdt_err *err);
    void (*disconnect)(mdt_db_conn *c);
    /* Prepares sql (with ?N placeholders) as statement id (or -1: a
     * statement used once, then finalized). */
    mdt_rc (*prepare)(mdt_db_conn *c, int id, const char *sql, mdt_db_stmt **out, mdt_err *err);
    void (*finalize)(mdt_db_stmt *st);
    /* Binders return 0 when bound. Bound memory is the caller's and must
     * outlive the step. A NULL text binds NULL. Parameters count from 1. */
    int (*bind_int64)(mdt_db_stmt *st, int i, int64_t v);
    int (*bind_text)(mdt_db_stmt *st, int i, const char *s);
    int (*bind_blob)(mdt_db_stmt *st, int i, const void *p, size_t n);
    int (*bind_null)(mdt_db_stmt *st, int i);
    /* The next row (*row true) or the end (*row false). The first step
     * runs the statement. */
    mdt_rc (*step)(mdt_db_stmt *st, bool *row, const char *what, mdt_err *err);
    /* Columns of the current row, counted from 0. Text and blobs live until
     * the next step or reset; a NULL column gives NULL (text) or 0. */
    int64_t (*col_int64)(mdt_db_stmt *st, int i);
    const char *(*col_text)(mdt_db_stmt *st, int i, size_t *len);
    const void *(*col_blob)(mdt_db_stmt *st, int i, size_t *len);
    /* Whether column i of the current row is NULL. */
    bool (*col_null)(mdt_db_stmt *st, int i);
    /* Ends a run: the statement can be bound and stepped again. */
    void (*reset)(mdt_db_stmt *st);
    /* Whether the statement is between its first step and its reset. */
    bool (*busy)(mdt_db_stmt *st);
    /* Rows changed by the last completed INSERT, UPDATE or DELETE. */
    int64_t (*changes)(mdt_db_conn *c);
    /* Whether a transaction is open on c. */
    bool (*in_tx)(mdt_db_conn *c);
    /* Whether the prepared statement only reads (it may then run inside a
     * read scope's transaction). NULL, or no Q_READ_BEGIN text: the driver
     * has no read scopes and every statement runs as it would outside one. */
    bool (*readonly)(mdt_db_stmt *st);
    /* The last error of c, mapped (for a failed binder). */
    mdt_rc (*fail)(mdt_db_conn *c, const char *what, mdt_err *err);
    /* Runs SQL of several statements without parameters (migrations). */
    mdt_rc (*exec)(mdt_db_conn *c, const char *sql, const char *what, mdt_err *err);
    /* Called after an audit append committed: returns once every change
     * committed before it is durable. NULL: every commit is durable. */
    mdt_rc (*durable)(mdt_db_conn *c, mdt_err *err);
    /* Background work of the engine (SQLite: the WAL checkpointer); NULL
     * when there is none. Stopped by ctx_free. */
    mdt_rc (*background_start)(void *ctx, mdt_err *err);
    /* Frees ctx once every connection is closed. */
    void (*ctx_free)(void *ctx);
};

/* The store over a driver. Takes ctx (freed with drv->ctx_free, also on
 * failure). Opens the calling thread's connection at once, so that a
 * database that cannot be reached fails here and not at the first request. */
mdt_rc mdt_store__sql_open(const mdt_db_driver *drv, void *ctx, mdt_store **out,
                           mdt_err *err) MDT_WARN_UNUSED;

/* The SQL statement id runs with drv: its override, else the portable text;
 * NULL when the statement has nothing to do on this driver. */
const char *mdt_store__sql_text(const mdt_db_driver *drv, int id);

/* The calling thread's connection to s and its driver (for work that runs
 * its own statements over every table: `db copy`). Borrowed: the store
 * closes it. */
mdt_rc mdt_store__sql_conn(mdt_store *s, const mdt_db_driver **drv, mdt_db_conn **db,
                           mdt_err *err) MDT_WARN_UNUSED;


#endif
