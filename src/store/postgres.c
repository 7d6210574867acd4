/* The PostgreSQL driver (driver.h) under the portable SQL layer (sql.c),
 * over libpq.
 *
 * A connection per thread (sql.c keeps them). Each statement is prepared
 * once per connection on the server (PQprepare, named after its statement
 * id), its ? placeholders turned into $n once, when it is first prepared.
 * Parameters go as text, except blobs (BYTEA, binary); results come in
 * binary, so that integers and hashes are read without parsing.
 *
 * A lost connection (the server restarted, a failover) fails the operation
 * that finds it with MDT_ERR_UNAVAILABLE (the server answers 503) while the
 * database is away; once it is back, the next operation on that connection
 * resets it (PQreset) and prepares its statements again, so that the store
 * recovers by itself. A connection found closed before a statement is sent
 * (idle, between transactions) is reset first, so that the first request
 * after a restart of the database does not fail. A commit is durable when it returns (synchronous_commit), so
 * there is no durable-commit hook; the audit chain is appended under a
 * transaction-scoped advisory lock (Q_AUDIT_LOCK), so that two nodes
 * appending at once make one chain.
 *
 * The URL may hold a password: it is never logged nor put in an error; the
 * errors name mdt_store__url_redact's form of it. */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/pg_text.h"

#define PG_MAX_PARAMS 24
#define PG_INT_LEN 24
/* Any constant: the key of the advisory lock that orders audit appends (and
 * the first half of the keys of refresh token families). */
#define AUDIT_LOCK_KEY "7243317"

/* Statements whose text differs from the portable one: PostgreSQL has no
 * scalar MAX (GREATEST), and cannot infer the type of a parameter that is
 * only selected (INSERT ... SELECT ?N) or only compared with a literal: those
 * are cast. */
static const char *const pg_override[Q_COUNT] = {
    [Q_AUDIT_LOCK] = "SELECT pg_advisory_xact_lock(" AUDIT_LOCK_KEY ")",
    /* (int, int) keys: apart from the audit lock's bigint key */
    [Q_RT_FAMILY_LOCK] = "SELECT pg_advisory_xact_lock(" AUDIT_LOCK_KEY ", hashtext(?1::TEXT))",
    [Q_MIGRATIONS_EXISTS] = "SELECT COUNT(*) FROM information_schema.tables "
                            "WHERE table_schema=current_schema() "
                            "AND table_name='schema_migrations'",
    [Q_CATALOG_TABLES] = "SELECT table_name::TEXT FROM information_schema.tables "
                         "WHERE table_schema=current_schema() AND table_type='BASE TABLE' "
                         "ORDER BY 1",
    [Q_CATALOG_COLUMNS] = "SELECT column_name::TEXT, data_type::TEXT "
                          "FROM information_schema.columns WHERE table_schema=current_schema() "
                          "AND table_name=?1::TEXT ORDER BY ordinal_position",
    [Q_CLIENT_INSERT] = "INSERT INTO clients (client_id,status,metadata,created_at,updated_at,"
                        "expires_at,tokens_valid_after) VALUES (?1,?2,?3,?4,?5,?6,"
                        "GREATEST(?7::BIGINT, COALESCE((SELECT deleted_at+1 FROM "
                        "client_tombstones WHERE client_id=?1), 0)))",
    [Q_CKPT_ADD] = "INSERT INTO audit_checkpoints (n,seq,time,head,jws) "
                   "SELECT ?1::BIGINT,?2::BIGINT,?3::BIGINT,?4::BYTEA,?5::TEXT "
                   "WHERE COALESCE((SELECT MAX(n) FROM audit_checkpoints),0)=?1::BIGINT-1 "
                   "AND COALESCE((SELECT MAX(seq) FROM audit_checkpoints),0)<?2::BIGINT",
    [Q_AUDIT_EACH] = "SELECT seq,time,type,body,prev_hash,hash FROM audit_events "
                     "WHERE seq>?1::BIGINT AND (?2::BIGINT=0 OR time>=?2::BIGINT) ORDER BY seq",
    [Q_AUDIT_EACH_CLIENT] = "SELECT seq,time,type,body,prev_hash,hash FROM audit_events "
                            "WHERE client_id=?3::TEXT AND seq>?1::BIGINT "
                            "AND (?2::BIGINT=0 OR time>=?2::BIGINT) ORDER BY seq",
    [Q_PURGE_RATES] = "DELETE FROM rate_counters WHERE window_start<?1::BIGINT-86400",
    [Q_PURGE_SESSIONS] = "DELETE FROM web_sessions WHERE expires_at<?1::BIGINT-86400",
    [Q_PURGE_ENTS] = "DELETE FROM entitlements WHERE (ended_at IS NOT NULL AND "
                     "ended_at<?1::BIGINT-2592000) OR (expires_at<>0 AND "
                     "expires_at<?1::BIGINT-2592000)",
    [Q_PURGE_CODES] = "DELETE FROM authz_codes WHERE expires_at<?1::BIGINT-86400 "
                      "AND tokens_expire_at<?1::BIGINT",
    [Q_PURGE_RTS] = "DELETE FROM refresh_tokens WHERE expires_at<?1::BIGINT-86400 "
                    "AND access_exp<?1::BIGINT",
    [Q_RT_INSERT] = "INSERT INTO refresh_tokens (hash,family,parent,client_id,subject,scope,"
                    "resource,auth_time,amr,sid,cnf_x5t,created_at,expires_at,used_at,"
                    "revoked_at,access_jti,access_exp,cnf_jkt) SELECT ?1::BYTEA,?2::TEXT,?3::BYTEA,"
                    "?4::TEXT,?5::TEXT,?6::TEXT,?7::TEXT,?8::BIGINT,?9::TEXT,?10::TEXT,"
                    "?11::TEXT,?12::BIGINT,?13::BIGINT,0,0,?14::TEXT,?15::BIGINT,?16::TEXT "
                    "WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family=?2::TEXT "
                    "AND revoked_at<>0)",
    [Q_USAGE_SCOPE_UPSERT] = "INSERT INTO usage_scopes (client_id,scope,last_used_at) "
                             "VALUES (?1,?2,?3) ON CONFLICT (client_id,scope) DO UPDATE SET "
                             "last_used_at=GREATEST(usage_scopes.last_used_at,"
                             "excluded.last_used_at)",
    [Q_USAGE_DAY_UPSERT] = "INSERT INTO usage_daily (client_id,day,tokens,last_used_at) "
                           "VALUES (?1,?2,?3,?4) ON CONFLICT (client_id,day) DO UPDATE SET "
                           "tokens=usage_daily.tokens+excluded.tokens,"
                           "last_used_at=GREATEST(usage_daily.last_used_at,excluded.last_used_at)",
    [Q_USAGE_DAY_LIST] = "SELECT client_id,day,tokens,last_used_at FROM usage_daily "
                         "WHERE (?1::TEXT IS NULL OR client_id=?1::TEXT) AND day>=?2::BIGINT "
                         "ORDER BY client_id,day",
    [Q_PURGE_USAGE] = "DELETE FROM usage_daily WHERE day<?1::BIGINT/86400-400",
    [Q_RT_CLIENT_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                         "SELECT access_jti,client_id,access_exp,?2::BIGINT FROM refresh_tokens "
                         "WHERE client_id=?1 AND revoked_at=0 AND access_jti<>'' AND "
                         "access_exp>?2::BIGINT ON CONFLICT (jti) DO NOTHING",
    [Q_RT_REVOKE_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                         "SELECT access_jti,client_id,access_exp,?2::BIGINT FROM refresh_tokens "
                         "WHERE family=?1 AND access_jti<>'' AND access_exp>?2::BIGINT "
                         "ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_CODE_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                          "SELECT access_jti,client_id,tokens_expire_at,?3::BIGINT FROM "
                          "authz_codes WHERE username=?1 AND (?2::TEXT IS NULL OR "
                          "client_id=?2::TEXT) AND access_jti<>'' AND tokens_expire_at>?3::BIGINT "
                          "ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_CODE_FAMILIES] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                              "SELECT family,client_id,tokens_expire_at,?3::BIGINT FROM "
                              "authz_codes WHERE username=?1 AND (?2::TEXT IS NULL OR "
                              "client_id=?2::TEXT) AND family<>'' AND "
                              "tokens_expire_at>?3::BIGINT ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_RT_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                        "SELECT access_jti,client_id,access_exp,?3::BIGINT FROM refresh_tokens "
                        "WHERE subject=?1 AND (?2::TEXT IS NULL OR client_id=?2::TEXT) AND "
                        "access_jti<>'' AND access_exp>?3::BIGINT ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_CONSENT] = "DELETE FROM consents WHERE username=?1 AND "
                        "(?2::TEXT IS NULL OR client_id=?2::TEXT)",
    [Q_GRANT_CODES_EXPIRE] = "UPDATE authz_codes SET expires_at=?3 WHERE username=?1 AND "
                             "(?2::TEXT IS NULL OR client_id=?2::TEXT) AND used_at=0 AND "
                             "expires_at>?3",
    [Q_GRANT_RT_REVOKE] = "UPDATE refresh_tokens SET revoked_at=?3 WHERE subject=?1 AND "
                          "(?2::TEXT IS NULL OR client_id=?2::TEXT) AND revoked_at=0",
    [Q_CRED_EXPIRE_OTHERS] = "UPDATE credentials SET expires_at=?4 WHERE client_id=?1 AND "
                             "type=?2 AND (?3::TEXT IS NULL OR id<>?3::TEXT) AND "
                             "(expires_at=0 OR expires_at>?4)",
    [Q_CLIENT_TOMBSTONE] = "INSERT INTO client_tombstones (client_id, deleted_at)"
                           " SELECT client_id, ?2::BIGINT FROM clients WHERE client_id=?1"
                           " ON CONFLICT (client_id) DO UPDATE SET deleted_at=excluded.deleted_at",
};

static const mdt_sql_dialect pg_dialect = {
    "BYTEA", "BIGINT PRIMARY KEY",
    {"(", "::jsonb->>'", "')"},
    {"(", "::jsonb->>'", "')::BIGINT"},
    {"(CASE WHEN (", "::jsonb->'", "')='true'::jsonb THEN 1 ELSE 0 END)"},
};

typedef struct {
    char *url;
    char *shown; /* the URL without its password */
} pg_ctx;

struct mdt_db_conn {
    PGconn *pg;
    pg_ctx *ctx;
    unsigned gen;     /* moves on every reset: statements prepared before it are gone */
    int64_t changes;  /* of the last completed statement */
};

typedef struct {
    mdt_db_stmt base; /* first */
    mdt_db_conn *c;
    char name[16];    /* "" for a statement used once */
    char *sql;        /* with $n */
    int nparams;
    unsigned gen;     /* c->gen when prepared on the server; 0: not prepared */
    const char *vals[PG_MAX_PARAMS];
    int lens[PG_MAX_PARAMS];
    int fmts[PG_MAX_PARAMS];
    char ints[PG_MAX_PARAMS][PG_INT_LEN];
    PGresult *res;
    int row, nrows;
    bool ran;
} pg_stmt;

static const mdt_db_driver pg_driver;

static pg_stmt *PS(mdt_db_stmt *st) { return (pg_stmt *)st; }

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs ("already exists, skipping") are not ours to print */
}

/* ---------------------------------------------------------------- errors */

static bool sqlstate_unavailable(const char *state)
{
    static const char *const codes[] = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03",
                                        "53000", "53100", "53200", "53300"};

    if (!state)
        return false;
    if (strncmp(state, "08", 2) == 0) /* connection exceptions */
        return true;
    for (size_t i = 0; i < MDT_ARRAY_LEN(codes); i++)
        if (strcmp(state, codes[i]) == 0)
            return true;
    return false;
}

/* The first line of libpq's message, for the private detail. */
static const char *first_line(const char *m, int *len)
{
    *len = m ? (int)strcspn(m, "\n") : 0;
    return m ? m : "";
}

static mdt_rc pg_map(mdt_db_conn *c, const PGresult *res, const char *what, mdt_err *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    int n;

    if (!m || !*m)
        m = PQerrorMessage(c->pg);
    m = first_line(m, &n);
    if (PQstatus(c->pg) != CONNECTION_OK || sqlstate_unavailable(state))
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "database unavailable", "%s: %.*s", what, n,
                         m);
    if (state && strcmp(state, "23505") == 0)
        return mdt_failf(err, MDT_ERR_CONFLICT, "already exists", "%s: %.*s", what, n, m);
    if (state && strcmp(state, "23503") == 0)
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "referenced record not found", "%s: %.*s", what,
                         n, m);
    return mdt_failf(err, MDT_ERR_STORE, "database error", "%s: %.*s", what, n, m);
}

/* ------------------------------------------------------------ connections */

static void pg_disconnect(mdt_db_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c);
}

static mdt_rc pg_connect(void *ctx, mdt_db_conn **out, mdt_err *err)
{
    pg_ctx *x = ctx;
    mdt_db_conn *c = calloc(1, sizeof(*c));
    mdt_rc rc;
    int n;

    *out = NULL;
    if (!c)
        return nomem(err);
    c->ctx = x;
    c->gen = 1;
    c->pg = PQconnectdb(x->url);
    if (!c->pg) {
        free(c);
        return nomem(err);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        const char *m = first_line(PQerrorMessage(c->pg), &n);
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "database cannot be reached",
                       "PostgreSQL at %s: %.*s", x->shown, n, m);
        pg_disconnect(c);
        return rc;
    }
    PQsetNoticeProcessor(c->pg, quiet, NULL);
    *out = c;
    return MDT_OK;
}

/* Whether the server spoke on an idle connection: it sends nothing between
 * transactions (no LISTEN here) unless it is closing the connection (a
 * restart, an administrator's termination), so anything to read means that
 * the connection is gone. */
static bool closed_while_idle(mdt_db_conn *c)
{
    struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};

    return p.fd < 0 || poll(&p, 1, 0) != 0;
}

/* A connection the server dropped is reset before it is used again; one
 * found closed while idle too, so that the first request after a restart of
 * the database does not fail. Never inside a transaction: a statement that
 * meets a lost connection there fails the operation. */
static mdt_rc ensure_conn(mdt_db_conn *c, mdt_err *err)
{
    int n;

    if (PQstatus(c->pg) == CONNECTION_OK &&
        (PQtransactionStatus(c->pg) != PQTRANS_IDLE || !closed_while_idle(c)))
        return MDT_OK;
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        const char *m = first_line(PQerrorMessage(c->pg), &n);
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "database unavailable",
                         "PostgreSQL at %s: %.*s", c->ctx->shown, n, m);
    }
    PQsetNoticeProcessor(c->pg, quiet, NULL);
    if (++c->gen == 0)
        c->gen = 1;
    return MDT_OK;
}

/* ------------------------------------------------------------- statements */

static mdt_rc pg_prepare(mdt_db_conn *c, int id, const char *sql, mdt_db_stmt **out,
                         mdt_err *err)
{
    pg_stmt *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (!s)
        return nomem(err);
    s->base.drv = &pg_driver;
    s->c = c;
    if (!(s->sql = mdt_store__pg_placeholders(sql, &s->nparams))) {
        free(s);
        return nomem(err);
    }
    if (s->nparams > PG_MAX_PARAMS) {
        free(s->sql);
        free(s);
        return mdt_fail(err, MDT_ERR_INTERNAL, "too many statement parameters");
    }
    if (id >= 0)
        snprintf(s->name, sizeof(s->name), "mdt_q%d", id);
    *out = &s->base;
    return MDT_OK;
}

static void pg_reset(mdt_db_stmt *st)
{
    pg_stmt *s = PS(st);

    PQclear(s->res);
    s->res = NULL;
    s->ran = false;
    s->row = s->nrows = 0;
    for (int i = 0; i < s->nparams; i++) {
        s->vals[i] = NULL;
        s->lens[i] = 0;
        s->fmts[i] = 0;
    }
}

static void pg_finalize(mdt_db_stmt *st)
{
    if (!st)
        return;
    pg_reset(st);
    /* the server's prepared statement goes with its connection */
    free(PS(st)->sql);
    free(st);
}

static int pg_bind_int64(mdt_db_stmt *st, int i, int64_t v)
{
    pg_stmt *s = PS(st);

    if (i < 1 || i > s->nparams)
        return 1;
    snprintf(s->ints[i - 1], PG_INT_LEN, "%lld", (long long)v);
    s->vals[i - 1] = s->ints[i - 1];
    s->fmts[i - 1] = 0;
    return 0;
}

static int pg_bind_text(mdt_db_stmt *st, int i, const char *v)
{
    pg_stmt *s = PS(st);

    if (i < 1 || i > s->nparams)
        return 1;
    s->vals[i - 1] = v;
    s->fmts[i - 1] = 0;
    return 0;
}

static int pg_bind_blob(mdt_db_stmt *st, int i, const void *p, size_t n)
{
    pg_stmt *s = PS(st);

    if (i < 1 || i > s->nparams || n > (size_t)1 << 30)
        return 1;
    s->vals[i - 1] = p ? p : "";
    s->lens[i - 1] = (int)n;
    s->fmts[i - 1] = 1;
    return 0;
}

static int pg_bind_null(mdt_db_stmt *st, int i)
{
    return pg_bind_text(st, i, NULL);
}

/* Prepares the statement on this connection if it is not (or no longer). */
static mdt_rc server_prepare(pg_stmt *s, const char *what, mdt_err *err)
{
    PGresult *r;
    mdt_rc rc = MDT_OK;

    if (!s->name[0] || s->gen == s->c->gen)
        return MDT_OK;
    r = PQprepare(s->c->pg, s->name, s->sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_map(s->c, r, what, err);
    else
        s->gen = s->c->gen;
    PQclear(r);
    return rc;
}

static mdt_rc execute(pg_stmt *s, const char *what, mdt_err *err)
{
    mdt_db_conn *c = s->c;
    ExecStatusType t;
    mdt_rc rc;

    if ((rc = ensure_conn(c, err)) != MDT_OK || (rc = server_prepare(s, what, err)) != MDT_OK)
        return rc;
    if (s->name[0])
        s->res = PQexecPrepared(c->pg, s->name, s->nparams, s->vals, s->lens, s->fmts, 1);
    else
        s->res = PQexecParams(c->pg, s->sql, s->nparams, NULL, s->vals, s->lens, s->fmts, 1);
    t = PQresultStatus(s->res);
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK)
        return pg_map(c, s->res, what, err);
    c->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
    s->nrows = PQntuples(s->res);
    s->row = -1;
    return MDT_OK;
}

static mdt_rc pg_step(mdt_db_stmt *st, bool *row, const char *what, mdt_err *err)
{
    pg_stmt *s = PS(st);

    *row = false;
    if (!s->ran) {
        mdt_rc rc;
        s->ran = true;
        if ((rc = execute(s, what, err)) != MDT_OK)
            return rc;
    }
    if (s->row < s->nrows)
        s->row++;
    *row = s->row < s->nrows;
    return MDT_OK;
}

static bool have_value(pg_stmt *s, int i)
{
    return s->res && s->row >= 0 && s->row < s->nrows && i < PQnfields(s->res) &&
           !PQgetisnull(s->res, s->row, i);
}

/* Binary integers are big-endian, of the column's width. */
static int64_t pg_col_int64(mdt_db_stmt *st, int i)
{
    pg_stmt *s = PS(st);
    const unsigned char *p;
    uint64_t v = 0;
    int n;

    if (!have_value(s, i))
        return 0;
    p = (const unsigned char *)PQgetvalue(s->res, s->row, i);
    n = PQgetlength(s->res, s->row, i);
    if (n != 2 && n != 4 && n != 8)
        return 0;
    for (int k = 0; k < n; k++)
        v = (v << 8) | p[k];
    if (n == 2)
        return (int16_t)v;
    if (n == 4)
        return (int32_t)v;
    return (int64_t)v;
}

static const char *pg_col_text(mdt_db_stmt *st, int i, size_t *len)
{
    pg_stmt *s = PS(st);

    if (len)
        *len = 0;
    if (!have_value(s, i))
        return NULL;
    if (len)
        *len = (size_t)PQgetlength(s->res, s->row, i);
    return PQgetvalue(s->res, s->row, i); /* NUL-terminated by libpq */
}

static const void *pg_col_blob(mdt_db_stmt *st, int i, size_t *len)
{
    return pg_col_text(st, i, len);
}

static bool pg_col_null(mdt_db_stmt *st, int i)
{
    return !have_value(PS(st), i);
}

static bool pg_busy(mdt_db_stmt *st)
{
    return PS(st)->ran;
}

static int64_t pg_changes(mdt_db_conn *c)
{
    return c->changes;
}

static bool pg_in_tx(mdt_db_conn *c)
{
    PGTransactionStatusType t = PQtransactionStatus(c->pg);

    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static mdt_rc pg_fail(mdt_db_conn *c, const char *what, mdt_err *err)
{
    (void)c;
    return mdt_failf(err, MDT_ERR_INTERNAL, "database error", "%s: parameter not bound", what);
}

static mdt_rc pg_exec(mdt_db_conn *c, const char *sql, const char *what, mdt_err *err)
{
    PGresult *r;
    mdt_rc rc = ensure_conn(c, err);
    ExecStatusType t;

    if (rc != MDT_OK)
        return rc;
    r = PQexec(c->pg, sql);
    t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
        rc = pg_map(c, r, what, err);
    PQclear(r);
    return rc;
}

/* --------------------------------------------------------------- lifecycle */

static void pg_ctx_free(void *ctx)
{
    pg_ctx *x = ctx;

    if (!x)
        return;
    if (x->url) {
        memset(x->url, 0, strlen(x->url)); /* it may hold a password */
        free(x->url);
    }
    free(x->shown);
    free(x);
}

static const mdt_db_driver pg_driver = {
    .name = "postgresql",
    .override = pg_override,
    .dialect = &pg_dialect,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_int64 = pg_col_int64,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .col_null = pg_col_null,
    .reset = pg_reset,
    .busy = pg_busy,
    .changes = pg_changes,
    .in_tx = pg_in_tx,
    .fail = pg_fail,
    .exec = pg_exec,
    .durable = NULL,
    .background_start = NULL,
    .ctx_free = pg_ctx_free,
};

mdt_rc mdt_store__pg_open(const char *url, mdt_store **out, mdt_err *err)
{
    pg_ctx *x = calloc(1, sizeof(*x));

    *out = NULL;
    if (!x || !(x->url = strdup(url)) || !(x->shown = mdt_store__url_redact(url))) {
        pg_ctx_free(x);
        return nomem(err);
    }
    if (!PQisthreadsafe()) {
        pg_ctx_free(x);
        return mdt_fail(err, MDT_ERR_CONFIG, "libpq is not thread-safe");
    }
    return mdt_store__sql_open(&pg_driver, x, out, err);
}
