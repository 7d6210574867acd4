/* `mandate db copy`: a SQLite deployment moved into an empty PostgreSQL
 * database, written once over the driver interface.
 *
 * The tables are those of mdt_store__tables (kept beside the migrations, in
 * an order that puts referenced tables first); a table of the source that is
 * not in that list stops the copy, so that a migration adding a table
 * without listing it cannot lose its rows. The columns of each table are
 * read from the source's catalogue, so that a column added by a migration is
 * copied without a change here; a value goes across with the binder of its
 * declared type (integer, text, blob) and NULL stays NULL.
 *
 * Order: both URLs checked; the source migrated; the destination reached and
 * checked for rows before anything is written to it; then migrated, checked
 * again and filled inside one transaction, while the source is read inside
 * one read transaction (one snapshot). A failure rolls the destination back
 * to its empty schema, which a second run accepts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "store/driver.h"
#include "store/pg_text.h"

#define COPY_MAX_COLS 24 /* the PostgreSQL driver's parameter limit */
#define COPY_SQL_MAX 8192

typedef struct {
    const mdt_db_driver *drv;
    mdt_db_conn *db;
} side;

typedef enum { COL_INT, COL_TEXT, COL_BLOB } col_kind;

typedef struct {
    size_t n;
    char *name[COPY_MAX_COLS];
    col_kind kind[COPY_MAX_COLS];
} cols;

typedef struct {
    size_t n;
    char **name;
} names;

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static bool has_prefix(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void names_free(names *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->name[i]);
    free(v->name);
    v->name = NULL;
    v->n = 0;
}

static bool names_has(const names *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->name[i], name) == 0)
            return true;
    return false;
}

static void cols_free(cols *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->name[i]);
    v->n = 0;
}

static bool contains_ci(const char *s, const char *word)
{
    size_t n = strlen(word);

    for (; *s; s++)
        if (strncasecmp(s, word, n) == 0)
            return true;
    return false;
}

/* The declared type of a column, as SQLite's catalogue or PostgreSQL's
 * information_schema spells it ("BIGINT", "bigint", "BLOB", "bytea"). */
static col_kind kind_of(const char *type)
{
    if (!type)
        return COL_TEXT;
    if (contains_ci(type, "int"))
        return COL_INT;
    if (contains_ci(type, "blob") || contains_ci(type, "bytea"))
        return COL_BLOB;
    return COL_TEXT;
}

static const mdt_store_table *listed(const char *name)
{
    for (size_t i = 0; i < mdt_store__table_count; i++)
        if (strcmp(mdt_store__tables[i].name, name) == 0)
            return &mdt_store__tables[i];
    return NULL;
}

/* Prepares the driver's catalogue statement q (a statement of its own). */
static mdt_rc catalogue(side *x, enum mdt_q q, mdt_db_stmt **st, mdt_err *err)
{
    const char *sql = mdt_store__sql_text(x->drv, q);

    if (!sql)
        return mdt_failf(err, MDT_ERR_INTERNAL, "database error", "no catalogue query for %s",
                         x->drv->name);
    return x->drv->prepare(x->db, -1, sql, st, err);
}

/* The tables of x's database. */
static mdt_rc tables_of(side *x, names *out, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    bool row = false;
    mdt_rc rc = catalogue(x, Q_CATALOG_TABLES, &st, err);

    if (rc == MDT_OK)
        rc = x->drv->step(st, &row, "catalogue", err);
    while (rc == MDT_OK && row) {
        size_t len = 0;
        const char *t = x->drv->col_text(st, 0, &len);
        char **grown = realloc(out->name, (out->n + 1) * sizeof(*grown));

        if (!grown) {
            rc = nomem(err);
            break;
        }
        out->name = grown;
        if (!(out->name[out->n] = strndup(t ? t : "", len))) {
            rc = nomem(err);
            break;
        }
        out->n++;
        rc = x->drv->step(st, &row, "catalogue", err);
    }
    if (st)
        x->drv->finalize(st);
    return rc;
}

/* The columns of table in x's database, with the kind of their type. */
static mdt_rc columns_of(side *x, const char *table, cols *out, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    bool row = false;
    mdt_rc rc = catalogue(x, Q_CATALOG_COLUMNS, &st, err);

    if (rc == MDT_OK && x->drv->bind_text(st, 1, table) != 0)
        rc = x->drv->fail(x->db, "catalogue", err);
    if (rc == MDT_OK)
        rc = x->drv->step(st, &row, "catalogue", err);
    while (rc == MDT_OK && row) {
        size_t len = 0;
        const char *name = x->drv->col_text(st, 0, &len);

        if (out->n == COPY_MAX_COLS) {
            rc = mdt_failf(err, MDT_ERR_INTERNAL, "database copy failed",
                           "table %s has more than %d columns", table, COPY_MAX_COLS);
            break;
        }
        if (!(out->name[out->n] = strndup(name ? name : "", len))) {
            rc = nomem(err);
            break;
        }
        out->kind[out->n++] = kind_of(x->drv->col_text(st, 1, NULL));
        rc = x->drv->step(st, &row, "catalogue", err);
    }
    if (st)
        x->drv->finalize(st);
    if (rc == MDT_OK && out->n == 0)
        rc = mdt_failf(err, MDT_ERR_STORE, "database copy failed", "table %s not found", table);
    return rc;
}

/* Runs sql (built from our own table and column names) as a statement of
 * its own; *row: whether it returned a row. */
static mdt_rc run_sql(side *x, const char *sql, bool *row, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    bool r = false;
    mdt_rc rc = x->drv->prepare(x->db, -1, sql, &st, err);

    if (rc == MDT_OK)
        rc = x->drv->step(st, &r, sql, err);
    if (st)
        x->drv->finalize(st);
    if (row)
        *row = r;
    return rc;
}

/* MDT_ERR_CONFLICT when a table of the destination other than
 * schema_migrations (and the rows the migrations insert) holds a row. */
static mdt_rc check_empty(side *dst, const char *shown, mdt_err *err)
{
    names t = {0};
    mdt_rc rc = tables_of(dst, &t, err);

    for (size_t i = 0; i < t.n && rc == MDT_OK; i++) {
        const mdt_store_table *l = listed(t.name[i]);
        char sql[256];
        bool row = false;

        if (strcmp(t.name[i], "schema_migrations") == 0 || (l && l->seeded))
            continue;
        /* quoted: a name from the catalogue, maybe not one of ours */
        if (strchr(t.name[i], '"')) {
            rc = mdt_failf(err, MDT_ERR_CONFLICT, "the destination database is not empty",
                           "%s has a table named %s", shown, t.name[i]);
            break;
        }
        snprintf(sql, sizeof(sql), "SELECT 1 FROM \"%s\" LIMIT 1", t.name[i]);
        if ((rc = run_sql(dst, sql, &row, err)) == MDT_OK && row)
            rc = mdt_failf(err, MDT_ERR_CONFLICT, "the destination database is not empty",
                           "%s: table %s holds rows; db copy fills an empty database only",
                           shown, t.name[i]);
    }
    names_free(&t);
    return rc;
}

/* Every table of the source is one the copy knows. */
static mdt_rc check_listed(side *src, mdt_err *err)
{
    names t = {0};
    mdt_rc rc = tables_of(src, &t, err);

    for (size_t i = 0; i < t.n && rc == MDT_OK; i++)
        if (strcmp(t.name[i], "schema_migrations") != 0 && !listed(t.name[i]))
            rc = mdt_failf(err, MDT_ERR_INTERNAL, "database copy failed",
                           "table %s of the source is not in the copy list", t.name[i]);
    for (size_t i = 0; i < mdt_store__table_count && rc == MDT_OK; i++)
        if (!names_has(&t, mdt_store__tables[i].name))
            rc = mdt_failf(err, MDT_ERR_STORE, "database copy failed",
                           "table %s is missing from the source", mdt_store__tables[i].name);
    names_free(&t);
    return rc;
}

/* "SELECT c1,c2 FROM t" and "INSERT INTO t (c1,c2) VALUES (?1,?2)". */
static mdt_rc build_sql(const char *table, const cols *c, char **sel, char **ins, mdt_err *err)
{
    mdt_buf s, i;
    mdt_rc rc;

    mdt_buf_init(&s, COPY_SQL_MAX);
    mdt_buf_init(&i, COPY_SQL_MAX);
    rc = mdt_buf_adds(&s, "SELECT ");
    if (rc == MDT_OK)
        rc = mdt_buf_addf(&i, "INSERT INTO %s (", table);
    for (size_t k = 0; k < c->n && rc == MDT_OK; k++) {
        const char *sep = k ? "," : "";

        if ((rc = mdt_buf_addf(&s, "%s%s", sep, c->name[k])) == MDT_OK)
            rc = mdt_buf_addf(&i, "%s%s", sep, c->name[k]);
    }
    if (rc == MDT_OK && (rc = mdt_buf_addf(&s, " FROM %s", table)) == MDT_OK)
        rc = mdt_buf_adds(&i, ") VALUES (");
    for (size_t k = 0; k < c->n && rc == MDT_OK; k++)
        rc = mdt_buf_addf(&i, "%s?%zu", k ? "," : "", k + 1);
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&i, ")");
    if (rc != MDT_OK || !(*sel = mdt_buf_take(&s)) || !(*ins = mdt_buf_take(&i))) {
        mdt_buf_free(&s);
        mdt_buf_free(&i);
        return rc != MDT_OK ? rc : nomem(err);
    }
    return MDT_OK;
}

/* Binds the current row of from as the parameters of to. */
static int bind_row(side *src, mdt_db_stmt *from, side *dst, mdt_db_stmt *to, const cols *c)
{
    int bad = 0;

    for (size_t k = 0; k < c->n; k++) {
        int i = (int)k, p = (int)k + 1;
        size_t len = 0;
        const void *b;

        if (src->drv->col_null(from, i)) {
            bad |= dst->drv->bind_null(to, p);
            continue;
        }
        switch (c->kind[k]) {
        case COL_INT:
            bad |= dst->drv->bind_int64(to, p, src->drv->col_int64(from, i));
            break;
        case COL_BLOB:
            b = src->drv->col_blob(from, i, &len);
            bad |= dst->drv->bind_blob(to, p, b ? b : "", len);
            break;
        case COL_TEXT:
            bad |= dst->drv->bind_text(to, p, src->drv->col_text(from, i, NULL));
            break;
        }
    }
    return bad;
}

static mdt_rc copy_rows(side *src, side *dst, const char *table, const cols *c, int64_t *rows,
                        mdt_err *err)
{
    mdt_db_stmt *from = NULL, *to = NULL;
    char *sel = NULL, *ins = NULL;
    bool row = false, ignored;
    mdt_rc rc = build_sql(table, c, &sel, &ins, err);

    if (rc == MDT_OK && (rc = src->drv->prepare(src->db, -1, sel, &from, err)) == MDT_OK &&
        (rc = dst->drv->prepare(dst->db, -1, ins, &to, err)) == MDT_OK)
        rc = src->drv->step(from, &row, table, err);
    while (rc == MDT_OK && row) {
        if (bind_row(src, from, dst, to, c) != 0)
            rc = dst->drv->fail(dst->db, table, err);
        else
            rc = dst->drv->step(to, &ignored, table, err);
        dst->drv->reset(to);
        if (rc == MDT_OK) {
            (*rows)++;
            rc = src->drv->step(from, &row, table, err);
        }
    }
    if (to)
        dst->drv->finalize(to);
    if (from)
        src->drv->finalize(from);
    free(sel);
    free(ins);
    return rc;
}

static mdt_rc copy_table(side *src, side *dst, const mdt_store_table *t, int64_t *rows,
                         mdt_err *err)
{
    cols c = {0};
    char sql[128];
    mdt_rc rc = MDT_OK;

    if (t->seeded) {
        snprintf(sql, sizeof(sql), "DELETE FROM %s", t->name);
        rc = run_sql(dst, sql, NULL, err);
    }
    if (rc == MDT_OK && (rc = columns_of(src, t->name, &c, err)) == MDT_OK)
        rc = copy_rows(src, dst, t->name, &c, rows, err);
    cols_free(&c);
    return rc;
}

static mdt_rc same_version(mdt_store *src, mdt_store *dst, int *out, mdt_err *err)
{
    int a = 0, b = 0;
    mdt_rc rc = mdt_store_schema_version(src, &a, err);

    if (rc == MDT_OK && (rc = mdt_store_schema_version(dst, &b, err)) == MDT_OK && a != b)
        rc = mdt_failf(err, MDT_ERR_STORE, "database copy failed",
                       "schema versions differ: source %d, destination %d", a, b);
    *out = a;
    return rc;
}

/* Every table, inside the destination's transaction and the source's read
 * transaction. */
static mdt_rc copy_all(side *src, side *dst, const char *shown, mdt_store_copy_report *out,
                       mdt_err *err)
{
    mdt_rc rc = src->drv->exec(src->db, "BEGIN", "begin", err);
    mdt_rc end;

    if (rc != MDT_OK)
        return rc;
    if ((rc = run_sql(dst, mdt_store__sql_text(dst->drv, Q_BEGIN), NULL, err)) == MDT_OK &&
        (rc = check_listed(src, err)) == MDT_OK && (rc = check_empty(dst, shown, err)) == MDT_OK) {
        for (size_t i = 0; i < mdt_store__table_count && rc == MDT_OK; i++) {
            rc = copy_table(src, dst, &mdt_store__tables[i], &out->rows, err);
            out->tables += rc == MDT_OK;
        }
    }
    if (rc == MDT_OK)
        rc = run_sql(dst, mdt_store__sql_text(dst->drv, Q_COMMIT), NULL, err);
    if (rc != MDT_OK && dst->drv->in_tx(dst->db))
        dst->drv->exec(dst->db, "ROLLBACK", "rollback", NULL);
    end = src->drv->exec(src->db, "COMMIT", "end of read", NULL);
    return rc != MDT_OK ? rc : end;
}

mdt_rc mdt_store_copy(const char *src_url, const char *dst_url, mdt_store_copy_report *out,
                      mdt_err *err)
{
    mdt_store *src = NULL, *dst = NULL;
    side s = {0}, d = {0};
    char *shown = NULL;
    int version = 0;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!has_prefix(src_url, "sqlite:"))
        return mdt_fail(err, MDT_ERR_CONFIG,
                        "db copy reads a SQLite database: the configured [storage] database is "
                        "not sqlite:");
    if (!has_prefix(dst_url, "postgresql://") && !has_prefix(dst_url, "postgres://"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "db copy writes into PostgreSQL: --to takes a postgresql:// URL");
    if (!(shown = mdt_store__url_redact(dst_url)))
        return nomem(err);
    if ((rc = mdt_store_open(src_url, &src, err)) != MDT_OK ||
        (rc = mdt_store_migrate(src, err)) != MDT_OK ||
        (rc = mdt_store__sql_conn(src, &s.drv, &s.db, err)) != MDT_OK)
        goto out;
    if ((rc = mdt_store_open(dst_url, &dst, err)) != MDT_OK ||
        (rc = mdt_store__sql_conn(dst, &d.drv, &d.db, err)) != MDT_OK)
        goto out;
    if ((rc = mdt_store_schema_version(dst, &version, err)) != MDT_OK)
        goto out;
    if (version > mdt_store__schema_latest()) {
        rc = mdt_failf(err, MDT_ERR_CONFLICT, "the destination database is not empty",
                       "%s: schema version %d, newer than this program's", shown, version);
        goto out;
    }
    /* before the migrations write anything */
    if ((rc = check_empty(&d, shown, err)) != MDT_OK || (rc = mdt_store_migrate(dst, err)) != MDT_OK ||
        (rc = same_version(src, dst, &out->schema_version, err)) != MDT_OK)
        goto out;
    rc = copy_all(&s, &d, shown, out, err);
out:
    mdt_store_close(dst);
    mdt_store_close(src);
    free(shown);
    return rc;
}
