/* Conformance tests of store.h, for every backend. The store URL comes from
 * MANDATE_TEST_STORE (e.g. "postgresql://..."); by default a fresh SQLite
 * file in a mkdtemp directory. The database may hold data from earlier runs
 * (PostgreSQL): every id is prefixed with a per-run prefix and list
 * assertions only look at this run's rows. */
#include "unit.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/hash.h"
#include "store/driver.h"
#include "store/migrations.h"
#include "store/store.h"

static char g_dir[64];       /* "" when the store comes from the environment */
static char g_url[512];
static char g_prefix[48];

typedef struct {
    mdt_store *s;
    mdt_arena a;
    mdt_err err;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    mdt_arena_init(&f->a, 4096);
    assert_int_equal(mdt_store_open(g_url, &f->s, &f->err), MDT_OK);
    assert_int_equal(mdt_store_migrate(f->s, &f->err), MDT_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;

    mdt_store_close(f->s);
    mdt_arena_free(&f->a);
    free(f);
    return 0;
}

/* This run's name for a record. */
static const char *id(fx *f, const char *name)
{
    const char *s = mdt_arena_printf(&f->a, "%s%s", g_prefix, name);
    assert_non_null(s);
    return s;
}

static void fill_hash(uint8_t h[MDT_HASH_LEN], uint8_t v)
{
    size_t n = strlen(g_prefix);

    memset(h, v, MDT_HASH_LEN);
    memcpy(h + 1, g_prefix, n < MDT_HASH_LEN - 1 ? n : MDT_HASH_LEN - 1); /* unique per run */
}

static mdt_client_rec client(const char *cid, const char *status)
{
    return (mdt_client_rec){.client_id = cid, .status = status, .metadata = "{\"n\":1}",
                            .created_at = 100, .updated_at = 100, .expires_at = 0,
                            .tokens_valid_after = 0};
}

static mdt_cred_rec cred(const char *cred_id, const char *cid, const char *type, int64_t created,
                         uint8_t h)
{
    mdt_cred_rec c = {.id = cred_id, .client_id = cid, .type = type, .created_at = created};
    memset(c.hash, h, sizeof(c.hash));
    return c;
}

/* ---------------------------------------------------------------- lifecycle */

static void test_migrate_idempotent(void **state)
{
    fx *f = *state;
    int v = -1;

    assert_int_equal(mdt_store_migrate(f->s, &f->err), MDT_OK);
    assert_int_equal(mdt_store_schema_version(f->s, &v, &f->err), MDT_OK);
    assert_int_equal(v, mdt_store__schema_latest());
    assert_true(v >= 1);
}

static void test_migrate_fresh_sqlite(void **state)
{
    mdt_store *s = NULL;
    mdt_err err = {0};
    char url[128];
    int v = -1;

    (void)state;
    if (!g_dir[0])
        skip();
    snprintf(url, sizeof(url), "sqlite:%s/fresh.db", g_dir);
    assert_int_equal(mdt_store_open(url, &s, &err), MDT_OK);
    assert_int_equal(mdt_store_schema_version(s, &v, &err), MDT_OK);
    assert_int_equal(v, 0);
    assert_int_equal(mdt_store_migrate(s, &err), MDT_OK);
    assert_int_equal(mdt_store_migrate(s, &err), MDT_OK);
    assert_int_equal(mdt_store_schema_version(s, &v, &err), MDT_OK);
    assert_int_equal(v, mdt_store__schema_latest());
    mdt_store_close(s);
}

static void test_open_errors(void **state)
{
    mdt_store *s = (mdt_store *)(uintptr_t)1; /* open must clear it */
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_store_open("sqlite:/nonexistent-mandate-dir/x/a.db", &s, &err),
                     MDT_ERR_CONFIG);
    assert_null(s);
    assert_string_equal(err.msg, "database directory does not exist");
    assert_int_equal(mdt_store_open("sqlite:", &s, &err), MDT_ERR_CONFIG);
    assert_int_equal(mdt_store_open("sqlite::memory:", &s, &err), MDT_ERR_CONFIG);
    assert_int_equal(mdt_store_open("mysql://localhost/x", &s, &err), MDT_ERR_CONFIG);
    assert_int_equal(mdt_store_open("", &s, &err), MDT_ERR_CONFIG);
    assert_null(s);
}

static void test_ping(void **state)
{
    fx *f = *state;

    assert_int_equal(mdt_store_ping(f->s, &f->err), MDT_OK);
}

static void test_render_placeholders(void **state)
{
    mdt_migration m = {1, "t", "a {BLOB} b {SEQ_PK} {x} {BLOB}"};
    mdt_sql_dialect d = {"BYTEA", "BIGINT PRIMARY KEY"};
    char *sql = mdt_store__migration_render(&m, &d);

    (void)state;
    assert_non_null(sql);
    assert_string_equal(sql, "a BYTEA b BIGINT PRIMARY KEY {x} BYTEA");
    free(sql);
}

static void test_render_json_placeholders(void **state)
{
    mdt_migration m = {1, "t", "{JSON_TEXT:params.scope} {JSON_INT:params.max_age} "
                               "{JSON_BOOL:p.pushed} {JSON_TEXT:nokey} {JSON_INT:a.} {JSON_X:a.b}"};
    mdt_sql_dialect d = {"BLOB", "INTEGER PRIMARY KEY", {"t(", ",'$.", "')"}, {"i(", ",", ")"},
                         {"b(", ",", ")"}};
    char *sql = mdt_store__migration_render(&m, &d);

    (void)state;
    assert_non_null(sql);
    assert_string_equal(sql, "t(params,'$.scope') i(params,max_age) b(p,pushed) "
                             "{JSON_TEXT:nokey} {JSON_INT:a.} {JSON_X:a.b}");
    free(sql);
}

/* ------------------------------------------------------------------ clients */

static void test_clients(void **state)
{
    fx *f = *state;
    const char *a = id(f, "client_a"), *b = id(f, "client_b");
    mdt_client_rec ca = client(a, "active"), cb = client(b, "pending"), got, *list;
    size_t n, ia = SIZE_MAX, ib = SIZE_MAX;

    ca.expires_at = 9999;
    assert_int_equal(mdt_store_client_insert(f->s, &cb, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(f->s, &ca, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(f->s, &ca, NULL, 0, &f->err), MDT_ERR_CONFLICT);

    assert_int_equal(mdt_store_client_get(f->s, a, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.client_id, a);
    assert_ptr_not_equal(got.client_id, a); /* copied into the arena */
    assert_string_equal(got.status, "active");
    assert_string_equal(got.metadata, "{\"n\":1}");
    assert_int_equal(got.created_at, 100);
    assert_int_equal(got.expires_at, 9999);
    assert_int_equal(mdt_store_client_get(f->s, id(f, "nope"), &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_null(got.client_id);

    assert_int_equal(mdt_store_client_list(f->s, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].client_id, a) == 0)
            ia = i;
        if (strcmp(list[i].client_id, b) == 0)
            ib = i;
    }
    assert_true(ia < ib && ib < n); /* both there, ordered by client_id */
    assert_string_equal(list[ib].status, "pending");

    ca.status = "suspended";
    ca.metadata = "{\"n\":2}";
    ca.updated_at = 200;
    ca.tokens_valid_after = 150;
    ca.created_at = 1; /* not updatable */
    assert_int_equal(mdt_store_client_update(f->s, &ca, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, a, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.status, "suspended");
    assert_string_equal(got.metadata, "{\"n\":2}");
    assert_int_equal(got.updated_at, 200);
    assert_int_equal(got.tokens_valid_after, 150);
    assert_int_equal(got.created_at, 100);
    ca.client_id = id(f, "nope");
    assert_int_equal(mdt_store_client_update(f->s, &ca, &f->err), MDT_ERR_NOT_FOUND);

    int64_t deleted_at = -1;
    assert_int_equal(mdt_store_client_deleted_at(f->s, a, &deleted_at, &f->err), MDT_OK);
    assert_int_equal(deleted_at, 0);
    assert_int_equal(mdt_store_client_delete(f->s, a, 1000, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, a, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_client_delete(f->s, a, 1001, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_client_get(f->s, b, &f->a, &got, &f->err), MDT_OK);
    /* a tombstone remembers the deletion (not the failed second one) */
    assert_int_equal(mdt_store_client_deleted_at(f->s, a, &deleted_at, &f->err), MDT_OK);
    assert_int_equal(deleted_at, 1000);
    assert_int_equal(mdt_store_client_deleted_at(f->s, b, &deleted_at, &f->err), MDT_OK);
    assert_int_equal(deleted_at, 0);
    /* created again under that id: the deleted client's tokens stay inactive */
    ca = client(a, "active");
    ca.tokens_valid_after = 0;
    assert_int_equal(mdt_store_client_insert(f->s, &ca, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, a, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.tokens_valid_after, 1001);
    /* a later kill switch still wins */
    assert_int_equal(mdt_store_client_delete(f->s, a, 1500, &f->err), MDT_OK);
    ca.tokens_valid_after = 2000;
    assert_int_equal(mdt_store_client_insert(f->s, &ca, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, a, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.tokens_valid_after, 2000);
}

static void test_client_delete_cascades(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "cascade");
    mdt_client_rec c = client(cid, "active");
    mdt_cred_rec cr = cred(id(f, "cred_cascade"), cid, "secret", 100, 1), *creds;
    mdt_token_rec t = {.jti = "j", .client_id = cid, .kind = "access", .claims = "{}",
                       .issued_at = 100, .expires_at = 200}, got;
    size_t n;

    fill_hash(t.hash, 0xc1);
    assert_int_equal(mdt_store_client_insert(f->s, &c, &cr, 1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_delete(f->s, cid, 1000, &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &creds, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mdt_store_token_get(f->s, NULL, t.hash, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    /* the credential id is free again */
    assert_int_equal(mdt_store_client_insert(f->s, &c, &cr, 1, &f->err), MDT_OK);
}

static void test_client_insert_atomic(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "atomic");
    mdt_client_rec c = client(cid, "active"), got;
    mdt_cred_rec creds[2] = {cred(id(f, "cred_dup"), NULL, "secret", 100, 1),
                             cred(id(f, "cred_dup"), NULL, "api_key", 100, 2)};
    mdt_cred_rec *list;
    size_t n;

    assert_int_equal(mdt_store_client_insert(f->s, &c, creds, 2, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_client_get(f->s, cid, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);

    /* a credential for another client is refused before anything is written */
    creds[1].id = id(f, "cred_other");
    creds[1].client_id = id(f, "someone_else");
    assert_int_equal(mdt_store_client_insert(f->s, &c, creds, 2, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_client_get(f->s, cid, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);

    creds[1].client_id = cid;
    assert_int_equal(mdt_store_client_insert(f->s, &c, creds, 2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].client_id, cid); /* NULL client_id took the client's */
}

/* -------------------------------------------------------------- credentials */

static const mdt_cred_rec *find_cred(const mdt_cred_rec *list, size_t n, const char *cred_id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, cred_id) == 0)
            return &list[i];
    }
    fail_msg("credential %s not listed", cred_id);
    return NULL;
}

static void test_creds(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "creds");
    const char *old = id(f, "cred_old"), *newer = id(f, "cred_new"), *soon = id(f, "cred_soon"),
               *key = id(f, "cred_key");
    mdt_client_rec c = client(cid, "active");
    mdt_cred_rec first = cred(old, cid, "secret", 100, 0xaa), *list;
    mdt_cred_rec more[3] = {cred(newer, cid, "secret", 300, 0xbb),
                            cred(soon, cid, "secret", 200, 0xcc),
                            cred(key, cid, "api_key", 250, 0xdd)};
    mdt_cred_rec stray = cred(id(f, "cred_stray"), id(f, "no_client"), "secret", 1, 1);
    uint8_t h[MDT_HASH_LEN];
    size_t n;

    more[1].expires_at = 300;
    assert_int_equal(mdt_store_client_insert(f->s, &c, &first, 1, &f->err), MDT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mdt_store_cred_insert(f->s, &more[i], &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_insert(f->s, &more[0], &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_cred_insert(f->s, &stray, &f->err), MDT_ERR_NOT_FOUND);

    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].id, old); /* oldest first */
    assert_string_equal(list[1].id, soon);
    assert_string_equal(list[2].id, key);
    assert_string_equal(list[3].id, newer);
    memset(h, 0xaa, sizeof(h));
    assert_memory_equal(list[0].hash, h, MDT_HASH_LEN);
    assert_string_equal(list[0].type, "secret");

    /* rotation: every other secret expires at 500 unless it expires sooner */
    assert_int_equal(mdt_store_cred_expire_others(f->s, cid, "secret", newer, 500, &f->err),
                     MDT_OK);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(find_cred(list, n, old)->expires_at, 500);
    assert_int_equal(find_cred(list, n, soon)->expires_at, 300);
    assert_int_equal(find_cred(list, n, newer)->expires_at, 0);
    assert_int_equal(find_cred(list, n, key)->expires_at, 0); /* other type */

    assert_int_equal(mdt_store_cred_touch(f->s, key, 777, &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_touch(f->s, id(f, "cred_none"), 777, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(find_cred(list, n, key)->last_used_at, 777);
    assert_int_equal(find_cred(list, n, old)->last_used_at, 0);
    {
        mdt_client_last_use *uses = NULL;
        size_t nu = 0;

        /* the latest use per client, clients never used left out */
        assert_int_equal(mdt_store_cred_touch(f->s, old, 700, &f->err), MDT_OK);
        assert_int_equal(mdt_store_cred_last_used(f->s, &f->a, &uses, &nu, &f->err), MDT_OK);
        size_t hits = 0;
        for (size_t i = 0; i < nu; i++) {
            if (i)
                assert_true(strcmp(uses[i - 1].client_id, uses[i].client_id) < 0);
            if (strcmp(uses[i].client_id, cid) == 0) {
                assert_int_equal(uses[i].last_used_at, 777);
                hits++;
            }
            assert_true(uses[i].last_used_at > 0);
        }
        assert_int_equal(hits, 1);
        assert_int_equal(mdt_store_cred_touch(f->s, old, 0, &f->err), MDT_OK);
    }

    assert_int_equal(mdt_store_cred_delete(f->s, id(f, "other"), key, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_cred_delete(f->s, cid, key, &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_delete(f->s, cid, key, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 3);
}

/* ------------------------------------------------------------------- scopes */

/* Every change of a client or its credentials moves the counter, in the
 * same transaction; touching last_used_at and failed changes do not. */
static void test_clients_version(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "ver"), *cr = id(f, "ver_cred");
    mdt_client_rec c = client(cid, "active");
    mdt_cred_rec one = cred(cr, cid, "secret", 10, 0x11);
    mdt_cred_rec two = cred(id(f, "ver_cred2"), cid, "secret", 20, 0x22);
    mdt_client_rec row;
    int64_t v0, v, own = -1;

#define MOVED(call)                                                                    \
    do {                                                                               \
        assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);      \
        assert_int_equal(call, MDT_OK);                                                \
        assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);       \
        assert_true(v > v0);                                                           \
        if (mdt_store_client_get(f->s, cid, &f->a, &row, &f->err) == MDT_OK) {        \
            assert_true(row.version > own);                                            \
            own = row.version;                                                         \
        }                                                                              \
    } while (0)
#define STILL(call, want)                                                              \
    do {                                                                               \
        assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);      \
        assert_int_equal(call, want);                                                  \
        assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);       \
        assert_int_equal(v, v0);                                                       \
    } while (0)
    MOVED(mdt_store_client_insert(f->s, &c, &one, 1, &f->err));
    STILL(mdt_store_client_insert(f->s, &c, &one, 1, &f->err), MDT_ERR_CONFLICT);
    c.status = "suspended";
    MOVED(mdt_store_client_update(f->s, &c, &f->err));
    MOVED(mdt_store_cred_insert(f->s, &two, &f->err));
    MOVED(mdt_store_cred_expire_others(f->s, cid, "secret", two.id, 30, &f->err));
    STILL(mdt_store_cred_touch(f->s, cr, 99, &f->err), MDT_OK);
    MOVED(mdt_store_cred_delete(f->s, cid, two.id, &f->err));
    STILL(mdt_store_cred_delete(f->s, cid, two.id, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_client_get(f->s, cid, &f->a, &row, &f->err), MDT_OK);
    assert_int_equal(row.version, own); /* a touch and failed changes left it */
    MOVED(mdt_store_client_delete(f->s, cid, 1000, &f->err));
    STILL(mdt_store_client_delete(f->s, cid, 1000, &f->err), MDT_ERR_NOT_FOUND);
#undef MOVED
#undef STILL
}

/* The counter as this process saw it: served while recent, forgotten when
 * this process changes a client; a change by another connection is seen
 * once the value is older than asked. */
static void test_clients_version_recent(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "recent");
    mdt_client_rec c = client(cid, "active");
    mdt_store *other = NULL;
    int64_t v0, v;

    assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_clients_version_recent(f->s, 60000000, &v, &f->err), MDT_OK);
    assert_int_equal(v, v0);
    /* this process: forgotten at once */
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    usleep(1000); /* a read begun in the microsecond of the change is not kept */
    assert_int_equal(mdt_store_clients_version_recent(f->s, 60000000, &v, &f->err), MDT_OK);
    assert_true(v > v0);
    v0 = v;
    /* another store (as another process or node would): served as seen while recent */
    assert_int_equal(mdt_store_open(g_url, &other, &f->err), MDT_OK);
    c.status = "suspended";
    assert_int_equal(mdt_store_client_update(other, &c, &f->err), MDT_OK);
    assert_int_equal(mdt_store_clients_version_recent(f->s, 60000000, &v, &f->err), MDT_OK);
    assert_int_equal(v, v0);
    assert_int_equal(mdt_store_clients_version_recent(f->s, 0, &v, &f->err), MDT_OK);
    assert_true(v > v0);
    mdt_store_close(other);
}

static void test_cred_lookup(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "look"), *k1 = id(f, "look_k1"), *k2 = id(f, "look_k2");
    const char *wl = id(f, "look_wl"), *sec = id(f, "look_sec");
    mdt_client_rec c = client(cid, "active");
    mdt_cred_rec first = cred(sec, cid, "secret", 10, 0x01), got;
    mdt_cred_rec add[2] = {cred(k1, cid, "jwk", 20, 0x02), cred(wl, cid, "workload", 30, 0x03)};
    fill_hash(add[1].hash, 0x03); /* unique per run: the suite may share a database */
    const char *del[1] = {sec};
    mdt_cred_rec bad[2] = {cred(k2, cid, "jwk", 40, 0x04), cred(k1, cid, "jwk", 40, 0x05)};
    uint8_t h[MDT_HASH_LEN];
    mdt_cred_rec *list;
    size_t n;

    add[0].name = "kid-1";
    assert_int_equal(mdt_store_client_insert(f->s, &c, &first, 1, &f->err), MDT_OK);
    c.metadata = "{\"n\":2}";
    assert_int_equal(mdt_store_client_update_creds(f->s, &c, add, 2, del, 1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_list(f->s, cid, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mdt_store_cred_get(f->s, k1, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.client_id, cid);
    assert_string_equal(got.type, "jwk");
    assert_string_equal(got.name, "kid-1");
    assert_int_equal(mdt_store_cred_get(f->s, sec, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    fill_hash(h, 0x03);
    assert_int_equal(mdt_store_cred_find(f->s, "workload", h, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.id, wl);
    assert_string_equal(got.name, "");
    assert_int_equal(mdt_store_cred_find(f->s, "jwk", h, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);

    /* all or nothing: a duplicate id in add[] undoes the update and the deletion */
    c.metadata = "{\"n\":3}";
    del[0] = wl;
    assert_int_equal(mdt_store_client_update_creds(f->s, &c, bad, 2, del, 1, &f->err),
                     MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_cred_get(f->s, wl, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(mdt_store_cred_get(f->s, k2, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    {
        mdt_client_rec back;
        assert_int_equal(mdt_store_client_get(f->s, cid, &f->a, &back, &f->err), MDT_OK);
        assert_string_equal(back.metadata, "{\"n\":2}");
    }
}

static void test_jti_use(void **state)
{
    fx *f = *state;
    const char *iss = id(f, "assertion-issuer"), *other = id(f, "other-issuer");

    assert_int_equal(mdt_store_jti_use(f->s, iss, "j1", 200, 100, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_use(f->s, iss, "j1", 200, 150, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_jti_use(f->s, other, "j1", 200, 150, &f->err), MDT_OK);
    /* after it expired the identifier may be recorded again */
    assert_int_equal(mdt_store_jti_use(f->s, iss, "j1", 400, 200, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_use(f->s, iss, "j1", 400, 399, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_purge_expired(f->s, 400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_use(f->s, iss, "j1", 500, 400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_use(f->s, iss, "", 500, 400, &f->err), MDT_ERR_INTERNAL);
    /* a pending use: recorded once and cleared; none pending is no write */
    {
        mdt_jti_use_rec none = {0}, u = {.issuer = iss, .jti = "j2", .expires_at = 600};
        assert_int_equal(mdt_store_jti_use_pending(f->s, &none, 400, &f->err), MDT_OK);
        assert_int_equal(mdt_store_jti_use_pending(f->s, &u, 400, &f->err), MDT_OK);
        assert_null(u.jti);
        assert_int_equal(mdt_store_jti_use_pending(f->s, &u, 400, &f->err), MDT_OK);
        u = (mdt_jti_use_rec){.issuer = iss, .jti = "j2", .expires_at = 600};
        assert_int_equal(mdt_store_jti_use_pending(f->s, &u, 450, &f->err), MDT_ERR_CONFLICT);
        assert_null(u.jti);
    }
}

/* Initial access tokens: found by hash or id, each use consumed in one
 * statement, none past max_uses or expires_at. */
static void test_iat(void **state)
{
    fx *f = *state;
    mdt_iat_rec t = {.id = id(f, "iat1"), .policy = "{\"scopes\":[\"read\"]}", .max_uses = 2,
                     .created_at = 100, .expires_at = 1000, .created_by = "cli"}, back;
    uint8_t other[MDT_HASH_LEN];

    fill_hash(t.hash, 0x51);
    fill_hash(other, 0x52);
    assert_int_equal(mdt_store_iat_insert(f->s, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_store_iat_insert(f->s, &t, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_iat_find(f->s, t.hash, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.id, t.id);
    assert_string_equal(back.policy, t.policy);
    assert_int_equal(back.max_uses, 2);
    assert_int_equal(back.uses, 0);
    assert_int_equal(back.expires_at, 1000);
    assert_int_equal(mdt_store_iat_find(f->s, other, &f->a, &back, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_iat_get(f->s, t.id, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(mdt_store_iat_consume(f->s, t.id, 1000, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND); /* expired at its expires_at */
    assert_int_equal(mdt_store_iat_consume(f->s, t.id, 500, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.uses, 1);
    assert_int_equal(mdt_store_iat_consume(f->s, t.id, 500, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.uses, 2);
    assert_int_equal(mdt_store_iat_consume(f->s, t.id, 500, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND); /* used up */
    assert_int_equal(mdt_store_iat_consume(f->s, id(f, "nope"), 500, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    t.id = id(f, "iat0");
    t.max_uses = 0;
    assert_int_equal(mdt_store_iat_insert(f->s, &t, &f->err), MDT_ERR_INTERNAL);
}

/* Approval requests: a decision is recorded once, never on an expired one. */
static void test_requests(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.id = id(f, "req1"), .type = "registration", .status = "pending",
                         .client_id = "mdt_x", .scope = "read write", .created_at = 100,
                         .expires_at = 1000},
                    back, *list = NULL;
    size_t n = 0, mine = 0;

    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_request_get(f->s, id(f, "req1"), &f->a, &back, &f->err), MDT_OK);
    assert_null(back.justification);
    assert_int_equal(back.duration, 0);
    r.id = id(f, "req3");
    r.type = "access_request";
    r.justification = "nightly payment run";
    r.duration = 28800;
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_get(f->s, r.id, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.justification, "nightly payment run");
    assert_int_equal(back.duration, 28800);
    r.justification = NULL;
    r.duration = 0;
    r.type = "registration";
    r.id = id(f, "req2");
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_get(f->s, id(f, "req1"), &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.scope, "read write");
    assert_null(back.subject);
    assert_null(back.decided_by);
    assert_int_equal(back.decided_at, 0);
    assert_int_equal(mdt_store_request_decide(f->s, id(f, "req1"), "approved", "ann", "ok", 500,
                                              &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.status, "approved");
    assert_string_equal(back.decided_by, "ann");
    assert_string_equal(back.note, "ok");
    assert_int_equal(back.decided_at, 500);
    assert_int_equal(mdt_store_request_decide(f->s, id(f, "req1"), "denied", "bob", NULL, 600,
                                              &f->a, &back, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_request_decide(f->s, id(f, "req2"), "approved", "ann", NULL, 1000,
                                              &f->a, &back, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_request_decide(f->s, id(f, "req2"), "maybe", "ann", NULL, 10,
                                              &f->a, &back, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_request_get(f->s, id(f, "nope"), &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_request_list(f->s, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i].id, g_prefix, strlen(g_prefix)) == 0)
            mine++;
    assert_int_equal(mine, 3);
}

/* Votes of a quorum: one per approver, a deny is final, the n-th distinct
 * allow decides; nothing on a decided or expired request. */
static void test_votes(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.id = id(f, "vq1"), .type = "registration", .status = "pending",
                         .client_id = "mdt_x", .created_at = 100, .expires_at = 1000},
                    back;
    mdt_vote_rec *votes = NULL;
    size_t n = 0, mine = 0;
    int64_t allows = -1;

    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    r.id = id(f, "vq2");
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq1"), "ann", true, 2, "fine", 200,
                                            &f->a, &back, &allows, &f->err), MDT_OK);
    assert_int_equal(allows, 1);
    assert_string_equal(back.status, "pending");
    /* the same approver again: refused, still one vote */
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq1"), "ann", true, 2, NULL, 210,
                                            &f->a, &back, &allows, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq1"), "bob", true, 2, "ok", 300,
                                            &f->a, &back, &allows, &f->err), MDT_OK);
    assert_int_equal(allows, 2);
    assert_string_equal(back.status, "approved");
    assert_string_equal(back.decided_by, "bob");
    assert_int_equal(back.decided_at, 300);
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq1"), "cat", false, 2, NULL, 310,
                                            &f->a, &back, &allows, &f->err), MDT_ERR_NOT_FOUND);
    /* one deny is final */
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq2"), "ann", true, 3, NULL, 200,
                                            &f->a, &back, &allows, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq2"), "bob", false, 3, "no", 220,
                                            &f->a, &back, &allows, &f->err), MDT_OK);
    assert_string_equal(back.status, "denied");
    assert_string_equal(back.decided_by, "bob");
    /* expired: no vote */
    r.id = id(f, "vq3");
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "vq3"), "ann", true, 2, NULL, 1000,
                                            &f->a, &back, &allows, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_request_vote(f->s, id(f, "nope"), "ann", true, 2, NULL, 200,
                                            &f->a, &back, &allows, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_vote_list(f->s, &f->a, &votes, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(votes[i].request_id, g_prefix, strlen(g_prefix)) != 0)
            continue;
        if (mine == 0) {
            assert_string_equal(votes[i].approver, "ann");
            assert_string_equal(votes[i].decision, "allow");
            assert_string_equal(votes[i].note, "fine");
            assert_int_equal(votes[i].voted_at, 200);
        }
        mine++;
    }
    assert_int_equal(mine, 4);
    /* one request's votes, in order */
    assert_int_equal(mdt_store_request_votes(f->s, id(f, "vq2"), &f->a, &votes, &n, &f->err),
                     MDT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(votes[0].approver, "ann");
    assert_string_equal(votes[1].approver, "bob");
    assert_string_equal(votes[1].decision, "deny");
    assert_int_equal(mdt_store_request_votes(f->s, id(f, "vq3"), &f->a, &votes, &n, &f->err),
                     MDT_OK);
    assert_int_equal(n, 0);
}

/* What an inbox may show: pending and unexpired at now, oldest first. */
static void test_request_list_pending(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.type = "ciba", .status = "pending", .client_id = "mdt_x",
                         .created_at = 100, .expires_at = 1000},
                    back, *list = NULL;
    size_t n = 0, mine = 0;
    int64_t count = -1;
    const char *want[] = {id(f, "lp2"), id(f, "lp4")};

    r.id = id(f, "lp1"); /* expired at 1000 */
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    r.id = id(f, "lp2");
    r.expires_at = 0; /* never */
    r.created_at = 101;
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    r.id = id(f, "lp3"); /* decided */
    r.created_at = 102;
    r.expires_at = 5000;
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_decide(f->s, id(f, "lp3"), "denied", "ann", NULL, 200,
                                              &f->a, &back, &f->err),
                     MDT_OK);
    r.id = id(f, "lp4");
    r.created_at = 103;
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_list_pending(f->s, 1000, &f->a, &list, &n, &f->err),
                     MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(list[i].id, g_prefix, strlen(g_prefix)) != 0)
            continue;
        assert_true(mine < 2);
        assert_string_equal(list[i].id, want[mine]);
        mine++;
    }
    assert_int_equal(mine, 2);
    /* the gauge counts what the inbox lists */
    assert_int_equal(mdt_store_request_count_pending(f->s, 1000, &count, &f->err), MDT_OK);
    assert_int_equal(count, (int64_t)n);
}

/* Voters on two store handles (two nodes) at once: no vote lost, none
 * counted twice, one final decision. */
#define VOTERS 6
typedef struct {
    mdt_store *s;
    const char *req;
    char name[16];
    mdt_rc rc;
    bool decided;
} voter;

static void *vote_thread(void *p)
{
    voter *v = p;
    mdt_arena a;
    mdt_err err;
    mdt_request_rec r;
    int64_t allows = 0;

    mdt_arena_init(&a, 1024);
    v->rc = mdt_store_request_vote(v->s, v->req, v->name, true, VOTERS, NULL, 200, &a, &r,
                                   &allows, &err);
    v->decided = v->rc == MDT_OK && strcmp(r.status, "approved") == 0;
    mdt_arena_free(&a);
    mdt_store_thread_done(v->s);
    return NULL;
}

static void test_votes_concurrent(void **state)
{
    fx *f = *state;
    mdt_store *other = NULL;
    mdt_request_rec r = {.id = id(f, "vc"), .type = "registration", .status = "pending",
                         .client_id = "mdt_x", .created_at = 100, .expires_at = 1000};
    voter v[VOTERS];
    pthread_t th[VOTERS];
    int decided = 0;

    assert_int_equal(mdt_store_open(g_url, &other, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    for (int i = 0; i < VOTERS; i++) {
        v[i] = (voter){.s = i % 2 ? other : f->s, .req = r.id, .rc = MDT_ERR_INTERNAL};
        snprintf(v[i].name, sizeof(v[i].name), "voter%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, vote_thread, &v[i]), 0);
    }
    for (int i = 0; i < VOTERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(v[i].rc, MDT_OK);
        decided += v[i].decided;
    }
    assert_int_equal(decided, 1);
    assert_int_equal(mdt_store_request_get(f->s, r.id, &f->a, &r, &f->err), MDT_OK);
    assert_string_equal(r.status, "approved");
    mdt_store_close(other);
}

/* Expiry closes each due pending request once. */
static void test_request_expire_due(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.id = id(f, "xe1"), .type = "registration", .status = "pending",
                         .client_id = "mdt_x", .created_at = 100, .expires_at = 500},
                    *list = NULL, back;
    size_t n = 0, mine = 0;

    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    r.id = id(f, "xe2");
    r.expires_at = 900;
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_expire_due(f->s, 600, 1000, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++)
        if (strncmp(list[i].id, g_prefix, strlen(g_prefix)) == 0) {
            assert_string_equal(list[i].id, id(f, "xe1"));
            assert_string_equal(list[i].status, "expired");
            assert_int_equal(list[i].decided_at, 600);
            mine++;
        }
    assert_int_equal(mine, 1);
    assert_int_equal(mdt_store_request_expire_due(f->s, 600, 1000, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(strncmp(list[i].id, g_prefix, strlen(g_prefix)) != 0);
    assert_int_equal(mdt_store_request_get(f->s, id(f, "xe2"), &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.status, "pending");
    assert_int_equal(mdt_store_request_decide(f->s, id(f, "xe1"), "approved", "ann", NULL, 550,
                                              &f->a, &back, &f->err), MDT_ERR_NOT_FOUND);
}

/* The outbox: written with its request (or not at all), claimed once per
 * lease, retried, deleted. */
static void test_outbox(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.id = id(f, "ob_req"), .type = "registration", .status = "pending",
                         .client_id = "mdt_x", .created_at = 100, .expires_at = 1000};
    mdt_outbox_rec ev[2] = {
        {.id = id(f, "obx1"), .event_id = id(f, "evt"), .url = "http://127.0.0.1:1/a",
         .body = "{\"a\":1}", .created_at = 100, .next_at = 100},
        {.id = id(f, "obx2"), .event_id = id(f, "evt"), .url = "http://127.0.0.1:1/b",
         .body = "{\"a\":1}", .created_at = 100, .next_at = 100}};
    mdt_outbox_rec *got = NULL;
    size_t n = 0, mine = 0;

    /* a request that cannot be stored takes its notifications with it */
    assert_int_equal(mdt_store_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_request_insert_notify(f->s, &r, ev, 2, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_outbox_list(f->s, &f->a, &got, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(strncmp(got[i].id, g_prefix, strlen(g_prefix)) != 0);
    r.id = id(f, "ob_req2");
    assert_int_equal(mdt_store_request_insert_notify(f->s, &r, ev, 2, &f->err), MDT_OK);
    /* claims: each delivery to one claimer while its lease lasts */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(mdt_store_outbox_claim(f->s, 150, 180, 1000, &f->a, &got, &n, &f->err),
                         MDT_OK);
        mine = 0;
        for (size_t i = 0; i < n; i++)
            if (strncmp(got[i].id, g_prefix, strlen(g_prefix)) == 0) {
                assert_int_equal(got[i].attempts, 1);
                assert_int_equal(got[i].lease_until, 180);
                assert_string_equal(got[i].body, "{\"a\":1}");
                mine++;
            }
        assert_int_equal(mine, round == 0 ? 2 : 0);
    }
    assert_int_equal(mdt_store_outbox_retry(f->s, ev[0].id, 400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_outbox_delete(f->s, ev[1].id, &f->err), MDT_OK);
    /* the released one is due at 400; the lease of neither holds it */
    assert_int_equal(mdt_store_outbox_claim(f->s, 399, 500, 1000, &f->a, &got, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(strncmp(got[i].id, g_prefix, strlen(g_prefix)) != 0);
    assert_int_equal(mdt_store_outbox_claim(f->s, 400, 500, 1000, &f->a, &got, &n, &f->err), MDT_OK);
    mine = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(got[i].id, g_prefix, strlen(g_prefix)) == 0) {
            assert_string_equal(got[i].id, ev[0].id);
            assert_string_equal(got[i].event_id, ev[0].event_id);
            assert_int_equal(got[i].attempts, 2);
            mine++;
        }
    assert_int_equal(mine, 1);
    /* an expired lease (a node that died) frees it again */
    assert_int_equal(mdt_store_outbox_claim(f->s, 500, 600, 1000, &f->a, &got, &n, &f->err), MDT_OK);
    mine = 0;
    for (size_t i = 0; i < n; i++)
        mine += strncmp(got[i].id, g_prefix, strlen(g_prefix)) == 0;
    assert_int_equal(mine, 1);
    assert_int_equal(mdt_store_outbox_delete(f->s, ev[0].id, &f->err), MDT_OK);
}

/* Delivery threads on two store handles (two nodes) claim at once: each
 * delivery goes to exactly one of them. */
#define CLAIMERS 4
#define DELIVERIES 24
static atomic_int g_claimed; /* deliveries of this test claimed so far, by all claimers */
typedef struct {
    mdt_store *s;
    int got[DELIVERIES];
    mdt_rc rc;
} claimer;

static void *claim_thread(void *p)
{
    claimer *c = p;
    mdt_arena a;
    mdt_err err;

    mdt_arena_init(&a, 4096);
    /* a claim that lost a race may find nothing while others remain: go
       on until all are claimed (bounded) */
    for (int round = 0; round < 50 * DELIVERIES && c->rc == MDT_OK &&
                        atomic_load(&g_claimed) < DELIVERIES; round++) {
        mdt_outbox_rec *got = NULL;
        size_t n = 0;
        c->rc = mdt_store_outbox_claim(c->s, 5000, 6000, 1, &a, &got, &n, &err);
        for (size_t i = 0; c->rc == MDT_OK && i < n; i++) {
            size_t plen = strlen(g_prefix);
            int k;
            if (strncmp(got[i].id, g_prefix, plen) == 0 && sscanf(got[i].id + plen, "occ%d", &k) == 1 &&
                k >= 0 && k < DELIVERIES) {
                c->got[k]++;
                atomic_fetch_add(&g_claimed, 1);
            }
        }
    }
    mdt_arena_free(&a);
    mdt_store_thread_done(c->s);
    return NULL;
}

static void test_outbox_claim_concurrent(void **state)
{
    fx *f = *state;
    mdt_store *other = NULL;
    mdt_request_rec r = {.id = id(f, "occ_req"), .type = "registration", .status = "pending",
                         .client_id = "mdt_x", .created_at = 100, .expires_at = 1000};
    mdt_outbox_rec ev[DELIVERIES];
    claimer c[CLAIMERS];
    pthread_t th[CLAIMERS];

    for (int i = 0; i < DELIVERIES; i++) {
        char name[16];
        snprintf(name, sizeof(name), "occ%d", i);
        ev[i] = (mdt_outbox_rec){.id = id(f, name), .event_id = id(f, "occ_evt"),
                                 .url = "http://127.0.0.1:1/", .body = "{}", .created_at = 4000,
                                 .next_at = 4000};
    }
    assert_int_equal(mdt_store_request_insert_notify(f->s, &r, ev, DELIVERIES, &f->err), MDT_OK);
    assert_int_equal(mdt_store_open(g_url, &other, &f->err), MDT_OK);
    atomic_init(&g_claimed, 0);
    for (int i = 0; i < CLAIMERS; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        c[i].s = i % 2 ? other : f->s;
        assert_int_equal(pthread_create(&th[i], NULL, claim_thread, &c[i]), 0);
    }
    for (int i = 0; i < CLAIMERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(c[i].rc, MDT_OK);
    }
    for (int k = 0; k < DELIVERIES; k++) {
        int total = 0;
        for (int i = 0; i < CLAIMERS; i++)
            total += c[i].got[k];
        assert_int_equal(total, 1);
        assert_int_equal(mdt_store_outbox_delete(f->s, ev[k].id, &f->err), MDT_OK);
    }
    mdt_store_close(other);
}

/* CIBA requests: found by hash and client only; each poll returns the one
 * before it; redeemed once; purged a day after they expire. */
static void test_ciba(void **state)
{
    fx *f = *state;
    mdt_ciba_rec r = {.request_id = id(f, "req_c1"), .client_id = id(f, "cl"), .interval = 5,
                      .expires_at = 1000},
                 back;
    uint8_t h[MDT_HASH_LEN], other[MDT_HASH_LEN];

    fill_hash(h, 0x61);
    fill_hash(other, 0x62);
    assert_int_equal(mdt_store_ciba_insert(f->s, h, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_ciba_insert(f->s, h, &r, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl"), 100, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.request_id, r.request_id);
    assert_string_equal(back.client_id, r.client_id);
    assert_int_equal(back.interval, 5);
    assert_int_equal(back.expires_at, 1000);
    assert_int_equal(back.last_poll, 0); /* the first poll */
    assert_int_equal(back.consumed_at, 0);
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl"), 103, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.last_poll, 100);
    /* another client's poll finds nothing and moves nothing */
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl2"), 104, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_ciba_poll(f->s, other, id(f, "cl"), 104, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    /* read without a poll: the last poll, and nothing recorded */
    assert_int_equal(mdt_store_ciba_get(f->s, h, id(f, "cl"), &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.request_id, r.request_id);
    assert_int_equal(back.last_poll, 103);
    assert_int_equal(back.interval, 5);
    assert_int_equal(mdt_store_ciba_get(f->s, h, id(f, "cl2"), &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl"), 110, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.last_poll, 103);
    assert_int_equal(mdt_store_ciba_consume(f->s, h, 111, &f->err), MDT_OK);
    assert_int_equal(mdt_store_ciba_consume(f->s, h, 112, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_ciba_consume(f->s, other, 112, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl"), 120, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.consumed_at, 111);
    r.interval = 0;
    assert_int_equal(mdt_store_ciba_insert(f->s, other, &r, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_purge_expired(f->s, 1000 + 86400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl"), 120, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 1001 + 86400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_ciba_poll(f->s, h, id(f, "cl"), 120, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
}

/* Single-use tokens: each use counted in one statement; unknown jtis are
 * no single-use tokens; purged once expired. */
/* Dynamic entitlements: live at a time (not ended, not expired), ended
 * once, each change moving the clients counter; purge keeps live ones. */
static void test_entitlements(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "ent_client");
    mdt_client_rec c = client(cid, "active");
    mdt_entitlement_rec e1 = {.id = id(f, "ent_1"), .client_id = cid, .scope = "pay:write",
                              .request_id = "req_1", .approved_by = "olivia", .created_at = 100,
                              .expires_at = 200},
                        e2 = {.id = id(f, "ent_2"), .client_id = cid, .scope = "pay:read",
                              .resource = "https://api.example/", .approved_by = "cli",
                              .created_at = 110, .expires_at = 0},
                        bad = e1, *list = NULL, back;
    size_t n = 0;
    int64_t v0, v;

    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_entitlement_insert(f->s, &e1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
    assert_true(v > v0);
    assert_int_equal(mdt_store_entitlement_insert(f->s, &e2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_entitlement_insert(f->s, &e2, &f->err), MDT_ERR_CONFLICT);
    bad.id = id(f, "ent_bad");
    bad.client_id = id(f, "ent_nobody");
    assert_int_equal(mdt_store_entitlement_insert(f->s, &bad, &f->err), MDT_ERR_NOT_FOUND);
    bad.client_id = cid;
    bad.approved_by = NULL;
    assert_int_equal(mdt_store_entitlement_insert(f->s, &bad, &f->err), MDT_ERR_INTERNAL);

    assert_int_equal(mdt_store_entitlement_list(f->s, cid, 150, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, e1.id);
    assert_string_equal(list[0].scope, "pay:write");
    assert_null(list[0].resource);
    assert_string_equal(list[0].request_id, "req_1");
    assert_string_equal(list[0].approved_by, "olivia");
    assert_int_equal(list[0].expires_at, 200);
    assert_int_equal(list[0].ended_at, 0);
    assert_string_equal(list[1].resource, "https://api.example/");
    assert_null(list[1].request_id);
    /* expired the second it reaches expires_at */
    assert_int_equal(mdt_store_entitlement_list(f->s, cid, 200, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, e2.id);
    assert_int_equal(mdt_store_entitlement_end(f->s, cid, e1.id, 200, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    /* another client's id: not found, nothing ended */
    assert_int_equal(mdt_store_entitlement_end(f->s, id(f, "ent_nobody"), e2.id, 300, &f->a, &back,
                                               &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_entitlement_end(f->s, cid, e2.id, 300, &f->a, &back, &f->err),
                     MDT_OK);
    assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
    assert_true(v > v0);
    assert_int_equal(back.ended_at, 300);
    assert_int_equal(mdt_store_entitlement_end(f->s, cid, e2.id, 301, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_entitlement_list(f->s, cid, 150, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1); /* e1 still live at 150; e2 ended */

    /* purge keeps what is live or ended recently */
    e2.id = id(f, "ent_3");
    e2.created_at = 120;
    assert_int_equal(mdt_store_entitlement_insert(f->s, &e2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 200 + MDT_ENTITLEMENT_KEEP + 1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_entitlement_list(f->s, cid, 150, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, e2.id);
    /* the client's deletion takes its entitlements with it */
    assert_int_equal(mdt_store_client_delete(f->s, cid, 400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_entitlement_list(f->s, cid, 150, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
}

static void test_single_use(void **state)
{
    fx *f = *state;
    const char *jti = id(f, "once");
    int64_t uses = -1;

    assert_int_equal(mdt_store_single_use_take(f->s, jti, &uses, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_single_use_add(f->s, jti, 500, &f->err), MDT_OK);
    assert_int_equal(mdt_store_single_use_add(f->s, jti, 500, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_single_use_take(f->s, jti, &uses, &f->err), MDT_OK);
    assert_int_equal(uses, 1);
    assert_int_equal(mdt_store_single_use_take(f->s, jti, &uses, &f->err), MDT_OK);
    assert_int_equal(uses, 2);
    assert_int_equal(mdt_store_single_use_add(f->s, "", 500, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_purge_expired(f->s, 500, &f->err), MDT_OK);
    assert_int_equal(mdt_store_single_use_take(f->s, jti, &uses, &f->err), MDT_ERR_NOT_FOUND);
}

/* Rate counters: one count per call, per name and window; old windows purged. */
static void test_rate(void **state)
{
    fx *f = *state;
    const char *a = id(f, "rate-a"), *b = id(f, "rate-b");
    int64_t n = 0;

    for (int64_t i = 1; i <= 3; i++) {
        assert_int_equal(mdt_store_rate_hit(f->s, a, 600, &n, &f->err), MDT_OK);
        assert_int_equal(n, i);
    }
    assert_int_equal(mdt_store_rate_hit(f->s, b, 600, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mdt_store_rate_hit(f->s, a, 660, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mdt_store_purge_expired(f->s, 600 + 86400 + 1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_hit(f->s, a, 600, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1); /* the old window was purged */
    assert_int_equal(mdt_store_rate_hit(f->s, a, 660, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mdt_store_rate_hit(f->s, "", 660, &n, &f->err), MDT_ERR_INTERNAL);
}

/* Releasing gives back one count of a window, never below zero, and leaves
 * other windows and names alone. */
static void test_rate_release(void **state)
{
    fx *f = *state;
    const char *a = id(f, "release-a"), *b = id(f, "release-b");
    int64_t n = 0;

    for (int i = 0; i < 3; i++)
        assert_int_equal(mdt_store_rate_hit(f->s, a, 1200, &n, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_hit(f->s, b, 1200, &n, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_release(f->s, a, 1200, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_peek(f->s, a, 1200, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mdt_store_rate_peek(f->s, b, 1200, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mdt_store_rate_release(f->s, a, 1200, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_peek(f->s, a, 1200, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mdt_store_rate_hit(f->s, a, 1200, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    /* a window never counted: nothing to give back */
    assert_int_equal(mdt_store_rate_release(f->s, a, 1260, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_peek(f->s, a, 1260, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mdt_store_rate_release(f->s, "", 1260, &f->err), MDT_ERR_INTERNAL);
}

/* Peeking reads a window's count without adding one; none is 0. */
static void test_rate_peek(void **state)
{
    fx *f = *state;
    const char *a = id(f, "peek-a");
    int64_t n = -1;

    assert_int_equal(mdt_store_rate_peek(f->s, a, 900, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mdt_store_rate_hit(f->s, a, 900, &n, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_hit(f->s, a, 900, &n, &f->err), MDT_OK);
    assert_int_equal(mdt_store_rate_peek(f->s, a, 900, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mdt_store_rate_peek(f->s, a, 900, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2); /* peeking counted nothing */
    assert_int_equal(mdt_store_rate_peek(f->s, a, 1800, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
}

/* Web sessions: found by hash, touched, revoked once, purged a day after expiry. */
static void test_sessions(void **state)
{
    fx *f = *state;
    mdt_session_rec s = {0}, back;
    char name[96];

    snprintf(name, sizeof(name), "%ssess", g_prefix);
    mdt_sha256(name, strlen(name), s.hash);
    s.username = id(f, "ann");
    s.amr = "pwd";
    s.auth_time = s.created_at = s.last_seen_at = 1000;
    s.expires_at = 5000;
    assert_int_equal(mdt_store_session_insert(f->s, &s, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_insert(f->s, &s, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_session_get(f->s, s.hash, &f->a, &back, &f->err), MDT_OK);
    assert_memory_equal(back.hash, s.hash, MDT_HASH_LEN);
    assert_string_equal(back.username, s.username);
    assert_string_equal(back.amr, "pwd");
    assert_int_equal(back.auth_time, 1000);
    assert_int_equal(back.expires_at, 5000);
    assert_int_equal(back.revoked_at, 0);
    assert_int_equal(mdt_store_session_touch(f->s, s.hash, 1200, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_get(f->s, s.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.last_seen_at, 1200);
    assert_int_equal(mdt_store_session_revoke(f->s, s.hash, 1300, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_revoke(f->s, s.hash, 1400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_get(f->s, s.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 1300); /* the first revocation stays */
    assert_int_equal(mdt_store_session_touch(f->s, s.hash, 1500, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_purge_expired(f->s, 5000 + 86400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_get(f->s, s.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 5001 + 86400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_get(f->s, s.hash, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    s.username = "";
    assert_int_equal(mdt_store_session_insert(f->s, &s, &f->err), MDT_ERR_INTERNAL);
}


/* ------------------------------------------- authorization requests, consents */

static void test_authz_requests(void **state)
{
    fx *f = *state;
    mdt_authz_request_rec r = {.id = id(f, "areq"), .client_id = id(f, "c"),
                               .redirect_uri = "https://app.example/cb", .redirect_given = true,
                               .scope = "openid read", .resource = "https://api.example",
                               .state = "st", .nonce = "n-0S6", .code_challenge = "ch",
                               .prompt = "login consent", .max_age = 300, .login_after = 90,
                               .pushed = true, .form_post = true, .created_at = 100,
                               .expires_at = 200};
    mdt_authz_request_rec bare = {.id = id(f, "areq_bare"), .client_id = r.client_id,
                                  .redirect_uri = "https://app.example/cb", .scope = "",
                                  .code_challenge = "ch", .max_age = -1, .created_at = 100,
                                  .expires_at = 200};
    mdt_authz_request_rec back;

    assert_int_equal(mdt_store_authz_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_insert(f->s, &r, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_authz_request_get(f->s, r.id, 150, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.client_id, r.client_id);
    assert_string_equal(back.redirect_uri, r.redirect_uri);
    assert_true(back.redirect_given);
    assert_string_equal(back.scope, r.scope);
    assert_string_equal(back.resource, r.resource);
    assert_string_equal(back.state, r.state);
    assert_string_equal(back.nonce, r.nonce);
    assert_string_equal(back.code_challenge, r.code_challenge);
    assert_string_equal(back.prompt, r.prompt);
    assert_int_equal(back.max_age, 300);
    assert_int_equal(back.login_after, 90);
    assert_true(back.pushed);
    assert_true(back.form_post);
    assert_int_equal(back.created_at, 100);
    /* what a request did not have stays absent (NULL), not "" */
    assert_int_equal(mdt_store_authz_request_insert(f->s, &bare, &f->err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_take(f->s, bare.id, 150, &f->a, &back, &f->err),
                     MDT_OK);
    assert_null(back.resource);
    assert_null(back.state);
    assert_null(back.nonce);
    assert_null(back.prompt);
    assert_string_equal(back.scope, "");
    assert_int_equal(back.max_age, -1);
    assert_int_equal(back.login_after, 0);
    assert_false(back.redirect_given);
    assert_false(back.pushed);
    assert_false(back.form_post);
    assert_int_equal(back.expires_at, 200);
    assert_int_equal(mdt_store_authz_request_get(f->s, r.id, 200, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND); /* expired */
    assert_int_equal(mdt_store_authz_request_take(f->s, r.id, 200, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND); /* expired: not taken */
    assert_int_equal(mdt_store_authz_request_take(f->s, r.id, 150, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.state, r.state);
    assert_int_equal(mdt_store_authz_request_take(f->s, r.id, 150, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND); /* single use */
    assert_int_equal(mdt_store_authz_request_get(f->s, r.id, 150, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    /* purge removes what expired */
    r.id = id(f, "areq2");
    assert_int_equal(mdt_store_authz_request_insert(f->s, &r, &f->err), MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 200, &f->err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_get(f->s, r.id, 150, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
}

static void test_consents(void **state)
{
    fx *f = *state;
    const char *ann = id(f, "ann"), *bob = id(f, "bob");
    mdt_consent_rec c1 = {.username = ann, .client_id = id(f, "c2"), .scope = "openid",
                          .created_at = 100, .updated_at = 100};
    mdt_consent_rec c2 = {.username = ann, .client_id = id(f, "c1"), .scope = "openid email",
                          .created_at = 110, .updated_at = 110};
    mdt_consent_rec c3 = {.username = bob, .client_id = id(f, "c1"), .scope = "profile",
                          .created_at = 120, .updated_at = 120};
    mdt_consent_rec back, *list = NULL;
    size_t n = 0;

    assert_int_equal(mdt_store_consent_get(f->s, ann, c1.client_id, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_consent_put(f->s, &c1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_put(f->s, &c2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_put(f->s, &c3, &f->err), MDT_OK);
    c1.scope = "openid profile";
    c1.created_at = 999; /* kept from the first put */
    c1.updated_at = 300;
    assert_int_equal(mdt_store_consent_put(f->s, &c1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_get(f->s, ann, c1.client_id, &f->a, &back, &f->err),
                     MDT_OK);
    assert_string_equal(back.scope, "openid profile");
    assert_int_equal(back.created_at, 100);
    assert_int_equal(back.updated_at, 300);
    assert_int_equal(mdt_store_consent_list(f->s, ann, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 2); /* ann's only, ordered by client_id */
    assert_string_equal(list[0].client_id, c2.client_id);
    assert_string_equal(list[1].client_id, c1.client_id);
    assert_int_equal(mdt_store_consent_delete(f->s, ann, c2.client_id, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_get(f->s, ann, c2.client_id, &f->a, &back, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_consent_get(f->s, bob, c3.client_id, &f->a, &back, &f->err),
                     MDT_OK); /* another person's consent to the same client stays */
    assert_int_equal(mdt_store_consent_list(f->s, id(f, "nobody"), &f->a, &list, &n, &f->err),
                     MDT_OK);
    assert_int_equal(n, 0);
}

static void test_session_revoke_user(void **state)
{
    fx *f = *state;
    mdt_session_rec s[3] = {0}, back;
    const char *users[3] = {id(f, "ann"), id(f, "ann"), id(f, "bob")};

    for (int i = 0; i < 3; i++) {
        char name[96];
        snprintf(name, sizeof(name), "%srevuser%d", g_prefix, i);
        mdt_sha256(name, strlen(name), s[i].hash);
        s[i].username = users[i];
        s[i].amr = "pwd";
        s[i].auth_time = s[i].created_at = s[i].last_seen_at = 1000;
        s[i].expires_at = 9000;
        assert_int_equal(mdt_store_session_insert(f->s, &s[i], &f->err), MDT_OK);
    }
    assert_int_equal(mdt_store_session_revoke(f->s, s[1].hash, 1500, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_revoke_user(f->s, users[0], 2000, &f->err), MDT_OK);
    assert_int_equal(mdt_store_session_get(f->s, s[0].hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 2000);
    assert_int_equal(mdt_store_session_get(f->s, s[1].hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 1500); /* the first revocation stays */
    assert_int_equal(mdt_store_session_get(f->s, s[2].hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 0); /* another person's session */
    assert_int_equal(mdt_store_session_revoke_user(f->s, id(f, "nobody"), 2000, &f->err), MDT_OK);
}

/* The checkpointer runs beside writers from several threads and stops with
 * the store; starting it twice is harmless. */
static void *writer_thread(void *arg)
{
    fx *f = arg;
    mdt_err err;
    char jti[128];
    for (int i = 0; i < 200; i++) {
        snprintf(jti, sizeof(jti), "%s-%p-%d", g_prefix, (void *)&err, i);
        if (mdt_store_jti_use(f->s, "ckpt", jti, 10000, 1, &err) != MDT_OK)
            return (void *)1;
    }
    mdt_store_thread_done(f->s);
    return NULL;
}

static void test_background(void **state)
{
    fx *f = *state;
    pthread_t t[2];
    void *r0, *r1;

    assert_int_equal(mdt_store_background_start(f->s, &f->err), MDT_OK);
    assert_int_equal(mdt_store_background_start(f->s, &f->err), MDT_OK);
    assert_int_equal(pthread_create(&t[0], NULL, writer_thread, f), 0);
    assert_int_equal(pthread_create(&t[1], NULL, writer_thread, f), 0);
    pthread_join(t[0], &r0);
    pthread_join(t[1], &r1);
    assert_null(r0);
    assert_null(r1);
    usleep(300 * 1000); /* at least one checkpoint pass */
    assert_int_equal(mdt_store_jti_use(f->s, "ckpt", "after", 10000, 1, &f->err), MDT_OK);
}

static void test_scopes(void **state)
{
    fx *f = *state;
    const char *const res[] = {"https://api.example/a", "https://api.example/b", NULL};
    const char *const other[] = {"https://x.example", NULL};
    const char *plain = id(f, "scope_plain"), *rich = id(f, "scope_rich");
    mdt_scope_rec p = {.name = plain, .description = "Plain", .sensitivity = "none",
                       .created_at = 10};
    mdt_scope_rec r = {.name = rich, .description = "Rich", .sensitivity = "approval",
                       .resources = res, .created_at = 11};
    mdt_scope_rec got, *list;
    size_t n, found = 0;

    assert_int_equal(mdt_store_scope_insert(f->s, &p, &f->err), MDT_OK);
    assert_int_equal(mdt_store_scope_insert(f->s, &r, &f->err), MDT_OK);
    r.resources = other;
    assert_int_equal(mdt_store_scope_insert(f->s, &r, &f->err), MDT_ERR_CONFLICT);

    assert_int_equal(mdt_store_scope_get(f->s, plain, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.name, plain);
    assert_string_equal(got.description, "Plain");
    assert_string_equal(got.sensitivity, "none");
    assert_int_equal(got.created_at, 10);
    assert_null(got.resources);

    assert_int_equal(mdt_store_scope_get(f->s, rich, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.sensitivity, "approval");
    assert_non_null(got.resources);
    assert_string_equal(got.resources[0], res[0]); /* unchanged by the failed insert */
    assert_string_equal(got.resources[1], res[1]);
    assert_null(got.resources[2]);
    assert_int_equal(mdt_store_scope_get(f->s, id(f, "scope_none"), &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);

    assert_int_equal(mdt_store_scope_list(f->s, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, plain) == 0) {
            assert_null(list[i].resources);
            assert_int_equal(found, 0); /* plain sorts before rich */
            found = 1;
        } else if (strcmp(list[i].name, rich) == 0) {
            assert_int_equal(found, 1);
            assert_string_equal(list[i].resources[1], res[1]);
            assert_null(list[i].resources[2]);
            found = 2;
        }
    }
    assert_int_equal(found, 2);
}

/* -------------------------------------------------------------------- users */

static mdt_user_rec user(const char *username, const char *roles)
{
    return (mdt_user_rec){.username = username, .name = "Name", .email = "u@example.com",
                          .roles = roles, .status = "active",
                          .password_hash = "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA",
                          .created_at = 50, .updated_at = 51};
}

static void test_users(void **state)
{
    fx *f = *state;
    const char *a = id(f, "user_a"), *b = id(f, "user_b");
    mdt_user_rec ua = user(a, "admin approver"), ub = user(b, ""), got, *list;
    int64_t before = -1, after = -1;
    size_t n, ia = SIZE_MAX, ib = SIZE_MAX;
    char *upper;

    assert_int_equal(mdt_store_user_count(f->s, &before, &f->err), MDT_OK);
    assert_int_equal(mdt_store_user_insert(f->s, &ub, &f->err), MDT_OK);
    assert_int_equal(mdt_store_user_insert(f->s, &ua, &f->err), MDT_OK);
    ua.name = "Other";
    assert_int_equal(mdt_store_user_insert(f->s, &ua, &f->err), MDT_ERR_CONFLICT);
    upper = mdt_arena_strdup(&f->a, a);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    ua.username = upper; /* unique regardless of ASCII case */
    assert_int_equal(mdt_store_user_insert(f->s, &ua, &f->err), MDT_ERR_CONFLICT);
    ua.username = a;
    ua.password_hash = NULL; /* NOT NULL columns are checked before the backend */
    assert_int_equal(mdt_store_user_insert(f->s, &ua, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_user_count(f->s, &after, &f->err), MDT_OK);
    assert_int_equal(after, before + 2);

    assert_int_equal(mdt_store_user_get(f->s, a, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.username, a);
    assert_string_equal(got.name, "Name"); /* unchanged by the failed insert */
    assert_string_equal(got.email, "u@example.com");
    assert_string_equal(got.roles, "admin approver");
    assert_string_equal(got.status, "active");
    assert_string_equal(got.password_hash, "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA");
    assert_int_equal(got.created_at, 50);
    assert_int_equal(got.updated_at, 51);
    assert_int_equal(mdt_store_user_get(f->s, upper, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_user_get(f->s, id(f, "user_none"), &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);

    ub.name = "New";
    ub.email = "";
    ub.roles = "approver";
    ub.status = "disabled";
    ub.password_hash = "$argon2id$v=19$m=8192,t=1,p=1$c2FsdDI$aGFzaDI";
    ub.created_at = 999; /* not updatable */
    ub.updated_at = 60;
    assert_int_equal(mdt_store_user_update(f->s, &ub, &f->err), MDT_OK);
    assert_int_equal(mdt_store_user_get(f->s, b, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.name, "New");
    assert_string_equal(got.email, "");
    assert_string_equal(got.roles, "approver");
    assert_string_equal(got.status, "disabled");
    assert_string_equal(got.password_hash, ub.password_hash);
    assert_int_equal(got.created_at, 50);
    assert_int_equal(got.updated_at, 60);
    ub.username = id(f, "user_none");
    assert_int_equal(mdt_store_user_update(f->s, &ub, &f->err), MDT_ERR_NOT_FOUND);

    assert_int_equal(mdt_store_user_list(f->s, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].username, a) == 0)
            ia = i;
        else if (strcmp(list[i].username, b) == 0)
            ib = i;
    }
    assert_true(ia != SIZE_MAX && ib != SIZE_MAX && ia < ib);
    assert_string_equal(list[ia].roles, "admin approver");
    assert_string_equal(list[ib].status, "disabled");
}

/* ------------------------------------------------------------------- usage */

static const mdt_usage_scope_rec *find_scope(const mdt_usage_scope_rec *l, size_t n,
                                             const char *cid, const char *scope)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].client_id, cid) == 0 && strcmp(l[i].scope, scope) == 0)
            return &l[i];
    return NULL;
}

/* A usage batch is upserted by primary key in one transaction: last uses
 * take the greater (an older batch from another node does not move them
 * back), day counters add; day rows older than 400 days are purged. */
static void test_usage(void **state)
{
    fx *f = *state;
    const char *c1 = id(f, "use-1"), *c2 = id(f, "use-2");
    const int64_t day = 20000, now = day * 86400 + 100;
    mdt_usage_scope_rec sc1[] = {{c1, "read", now}, {c1, "write", now - 50}, {c2, "read", now}};
    mdt_usage_day_rec d1[] = {{c1, day, 3, now}, {c1, day - 500, 1, now - 500 * 86400}};
    mdt_usage_scope_rec sc2[] = {{c1, "read", now - 10}, {c1, "write", now + 5}};
    mdt_usage_day_rec d2[] = {{c1, day, 4, now - 20}, {c2, day, 1, now}};
    mdt_usage_scope_rec *l = NULL;
    mdt_usage_day_rec *dl = NULL;
    size_t n = 0, nd = 0;

    assert_int_equal(mdt_store_usage_flush(f->s, sc1, 3, d1, 2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_usage_flush(f->s, sc2, 2, d2, 2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_usage_flush(f->s, NULL, 0, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_usage_scope_list(f->s, &f->a, &l, &n, &f->err), MDT_OK);
    assert_non_null(find_scope(l, n, c1, "read"));
    assert_int_equal(find_scope(l, n, c1, "read")->last_used_at, now);      /* not moved back */
    assert_int_equal(find_scope(l, n, c1, "write")->last_used_at, now + 5); /* moved on */
    assert_int_equal(find_scope(l, n, c2, "read")->last_used_at, now);
    assert_int_equal(mdt_store_usage_day_list(f->s, c1, 0, &f->a, &dl, &nd, &f->err), MDT_OK);
    assert_int_equal(nd, 2);
    assert_int_equal(dl[0].day, day - 500);
    assert_int_equal(dl[1].day, day);
    assert_int_equal(dl[1].tokens, 7);
    assert_int_equal(dl[1].last_used_at, now);
    assert_int_equal(mdt_store_usage_day_list(f->s, c1, day, &f->a, &dl, &nd, &f->err), MDT_OK);
    assert_int_equal(nd, 1);
    assert_int_equal(mdt_store_usage_day_list(f->s, NULL, day, &f->a, &dl, &nd, &f->err), MDT_OK);
    assert_true(nd >= 2);
    assert_int_equal(mdt_store_purge_expired(f->s, now, &f->err), MDT_OK);
    assert_int_equal(mdt_store_usage_day_list(f->s, c1, 0, &f->a, &dl, &nd, &f->err), MDT_OK);
    assert_int_equal(nd, 1); /* the row of 500 days ago is gone */
    assert_int_equal(dl[0].day, day);
    /* a record without a client is refused and writes nothing */
    mdt_usage_scope_rec bad[] = {{c2, "write", now}, {NULL, "x", now}};
    assert_int_equal(mdt_store_usage_flush(f->s, bad, 2, NULL, 0, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_usage_scope_list(f->s, &f->a, &l, &n, &f->err), MDT_OK);
    assert_null(find_scope(l, n, c2, "write"));
}

/* The refresh tokens of one client: counted while usable, revoked all at
 * once with the access tokens issued with them; other clients untouched. */
static void test_refresh_revoke_client(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "rrc"), *other = id(f, "rrc-other"), *jti = id(f, "rrc-at");
    mdt_refresh_rec r1 = {.family = id(f, "rrc-f1"), .client_id = cid, .subject = "alice",
                          .scope = "read", .created_at = 100, .expires_at = 1000,
                          .access_jti = jti, .access_exp = 700};
    mdt_refresh_rec r2 = r1, r3 = r1, got;
    int64_t count = -1, revoked = -1;
    bool is = false;

    r2.family = id(f, "rrc-f2");
    r2.access_jti = "";
    r3.family = id(f, "rrc-f3");
    r3.client_id = other;
    r3.access_jti = "";
    mdt_sha256(id(f, "rrc1"), strlen(id(f, "rrc1")), r1.hash);
    mdt_sha256(id(f, "rrc2"), strlen(id(f, "rrc2")), r2.hash);
    mdt_sha256(id(f, "rrc3"), strlen(id(f, "rrc3")), r3.hash);
    assert_int_equal(mdt_store_refresh_insert(f->s, &r1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_insert(f->s, &r2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_insert(f->s, &r3, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_live_count(f->s, cid, 200, &count, &f->err), MDT_OK);
    assert_int_equal(count, 2);
    assert_int_equal(mdt_store_refresh_live_count(f->s, cid, 1000, &count, &f->err), MDT_OK);
    assert_int_equal(count, 0); /* expired */
    assert_int_equal(mdt_store_refresh_revoke_client(f->s, cid, 300, &revoked, &f->err), MDT_OK);
    assert_int_equal(revoked, 2);
    assert_int_equal(mdt_store_refresh_live_count(f->s, cid, 300, &count, &f->err), MDT_OK);
    assert_int_equal(count, 0);
    assert_int_equal(mdt_store_refresh_get(f->s, r1.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 300);
    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti, &is, &f->err), MDT_OK);
    assert_true(is);
    assert_int_equal(mdt_store_refresh_live_count(f->s, other, 300, &count, &f->err), MDT_OK);
    assert_int_equal(count, 1);
    assert_int_equal(mdt_store_refresh_revoke_client(f->s, cid, 301, &revoked, &f->err), MDT_OK);
    assert_int_equal(revoked, 0); /* idempotent */
    assert_int_equal(mdt_store_refresh_get(f->s, r1.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 300);
}

/* Review decisions: stored as given, listed by time; an id is unique. */
static void test_review_decisions(void **state)
{
    fx *f = *state;
    const char *fid = id(f, "fnd"), *cid = id(f, "rv-client");
    mdt_review_decision_rec d1 = {.id = id(f, "rvd1"), .finding_id = fid, .kind = "ownerless",
                                  .client_id = cid, .decision = "certify", .note = "ok",
                                  .until = 5000, .decided_by = "alice", .decided_at = 100};
    mdt_review_decision_rec d2 = d1, *l = NULL;
    size_t n = 0, i1 = SIZE_MAX, i2 = SIZE_MAX;

    d2.id = id(f, "rvd2");
    d2.decision = "revoke";
    d2.note = NULL;
    d2.until = 0;
    d2.decided_at = 200;
    assert_int_equal(mdt_store_review_insert(f->s, &d2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_review_insert(f->s, &d1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_review_insert(f->s, &d1, &f->err), MDT_ERR_CONFLICT);
    d1.decided_by = NULL;
    assert_int_equal(mdt_store_review_insert(f->s, &d1, &f->err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_review_list(f->s, &f->a, &l, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].id, id(f, "rvd1")) == 0)
            i1 = i;
        if (strcmp(l[i].id, id(f, "rvd2")) == 0)
            i2 = i;
    }
    assert_true(i1 != SIZE_MAX && i2 != SIZE_MAX && i1 < i2);
    assert_string_equal(l[i1].finding_id, fid);
    assert_string_equal(l[i1].note, "ok");
    assert_int_equal(l[i1].until, 5000);
    assert_string_equal(l[i2].note, "");
    assert_string_equal(l[i2].decision, "revoke");
}

/* Policies: insert (a duplicate id conflicts), get, list by id, update keeps
 * created_at and created_by, delete; each change moves the policies counter
 * and a failed one does not. */
static void test_policies(void **state)
{
    fx *f = *state;
    mdt_policy_rec p1 = {.id = id(f, "pol.b"), .text = "permit(principal, action, resource);",
                         .description = "all", .created_at = 100, .updated_at = 100,
                         .created_by = "alice"};
    mdt_policy_rec p2 = {.id = id(f, "pol.a"), .text = "forbid(principal, action, resource);",
                         .created_at = 110, .updated_at = 110, .created_by = "bob"};
    mdt_policy_rec got, *l = NULL;
    int64_t v0 = -1, v1 = -1;
    size_t n = 0, i1 = SIZE_MAX, i2 = SIZE_MAX;

    assert_int_equal(mdt_store_policies_version(f->s, &v0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_policy_insert(f->s, &p1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_policy_insert(f->s, &p2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_policies_version(f->s, &v1, &f->err), MDT_OK);
    assert_int_equal(v1, v0 + 2);
    assert_int_equal(mdt_store_policy_insert(f->s, &p1, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_policies_version(f->s, &v1, &f->err), MDT_OK);
    assert_int_equal(v1, v0 + 2);

    assert_int_equal(mdt_store_policy_get(f->s, p1.id, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.text, p1.text);
    assert_string_equal(got.description, "all");
    assert_string_equal(got.created_by, "alice");
    assert_int_equal(got.created_at, 100);
    assert_int_equal(mdt_store_policy_get(f->s, p2.id, &f->a, &got, &f->err), MDT_OK);
    assert_null(got.description);

    assert_int_equal(mdt_store_policy_list(f->s, &f->a, &l, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l[i].id, p1.id) == 0)
            i1 = i;
        if (strcmp(l[i].id, p2.id) == 0)
            i2 = i;
    }
    assert_true(i1 != SIZE_MAX && i2 != SIZE_MAX && i2 < i1); /* by id */

    p1.text = "forbid(principal, action, resource) when { false };";
    p1.description = NULL;
    p1.updated_at = 200;
    p1.created_at = 999;
    p1.created_by = "mallory";
    assert_int_equal(mdt_store_policy_update(f->s, &p1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_policy_get(f->s, p1.id, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.text, p1.text);
    assert_null(got.description);
    assert_int_equal(got.created_at, 100);
    assert_int_equal(got.updated_at, 200);
    assert_string_equal(got.created_by, "alice");
    assert_int_equal(mdt_store_policies_version(f->s, &v1, &f->err), MDT_OK);
    assert_int_equal(v1, v0 + 3);

    assert_int_equal(mdt_store_policy_delete(f->s, p1.id, &f->err), MDT_OK);
    assert_int_equal(mdt_store_policy_get(f->s, p1.id, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_policy_delete(f->s, p1.id, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_policy_update(f->s, &p1, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_policies_version(f->s, &v1, &f->err), MDT_OK);
    assert_int_equal(v1, v0 + 4);
    assert_int_equal(mdt_store_policy_delete(f->s, p2.id, &f->err), MDT_OK);
}

/* ------------------------------------------------------------------- tokens */

/* Refresh token families: insert, consume once in one statement, a second
 * consume is a reuse (CONFLICT with the row), family revocation revokes
 * every member and puts their access token jtis on the revocation list,
 * and no new member joins a revoked family. */
static void test_refresh_family(void **state)
{
    fx *f = *state;
    const char *fam = id(f, "rtf"), *jti1 = id(f, "rt_at1"), *jti2 = id(f, "rt_at2");
    mdt_refresh_rec r1 = {.family = fam, .client_id = id(f, "rtc"), .subject = "alice",
                          .scope = "openid read", .auth_time = 90, .amr = "pwd", .sid = "s1",
                          .created_at = 100, .expires_at = 1000, .access_jti = jti1,
                          .access_exp = 700, .cnf_jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"};
    mdt_refresh_rec r2 = r1, r3 = r1, got;
    bool revoked = true;

    mdt_sha256(id(f, "rt1"), strlen(id(f, "rt1")), r1.hash);
    mdt_sha256(id(f, "rt2"), strlen(id(f, "rt2")), r2.hash);
    mdt_sha256(id(f, "rt3"), strlen(id(f, "rt3")), r3.hash);
    r2.access_jti = jti2;
    memcpy(r2.parent, r1.hash, MDT_HASH_LEN);
    assert_int_equal(mdt_store_refresh_insert(f->s, &r1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_get(f->s, r1.hash, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.family, fam);
    assert_string_equal(got.scope, "openid read");
    assert_string_equal(got.resource, "");
    assert_string_equal(got.sid, "s1");
    assert_int_equal(got.auth_time, 90);
    assert_string_equal(got.cnf_jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
    assert_int_equal(got.used_at, 0);
    /* expired at now: not consumed */
    assert_int_equal(mdt_store_refresh_consume(f->s, r1.hash, 1000, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_refresh_consume(f->s, r1.hash, 200, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.used_at, 200);
    assert_string_equal(got.access_jti, jti1);
    assert_int_equal(mdt_store_refresh_consume(f->s, r1.hash, 201, &f->a, &got, &f->err),
                     MDT_ERR_CONFLICT);
    assert_string_equal(got.family, fam);
    assert_int_equal(mdt_store_refresh_consume(f->s, r3.hash, 201, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_refresh_insert(f->s, &r2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_revoke_family(f->s, fam, 300, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_revoke_family(f->s, fam, 301, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_get(f->s, r2.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 300);
    assert_memory_equal(got.parent, r1.hash, MDT_HASH_LEN);
    assert_int_equal(mdt_store_refresh_consume(f->s, r2.hash, 302, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti1, &revoked, &f->err), MDT_OK);
    assert_true(revoked);
    revoked = false;
    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti2, &revoked, &f->err), MDT_OK);
    assert_true(revoked);
    /* a rotation that lost the race with a reuse does not join the family */
    assert_int_equal(mdt_store_refresh_insert(f->s, &r3, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_refresh_get(f->s, r3.hash, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    /* purged once expired and its access tokens too */
    assert_int_equal(mdt_store_purge_expired(f->s, 1000 + 86401, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_get(f->s, r1.hash, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
}

/* A code is used in one statement that also records what its redemption
 * issues; a second use returns those ids (a replay revokes them). */
static void test_code_consume_records(void **state)
{
    fx *f = *state;
    mdt_authz_code_rec c = {.client_id = id(f, "cc_client"), .username = id(f, "cc_user"),
                            .redirect_uri = "https://app.example/cb", .redirect_given = true,
                            .code_challenge = "ch", .scope = "openid read",
                            .resource = "https://api.example", .nonce = "n-0S6",
                            .auth_time = 95, .amr = "pwd", .sid = "sid1", .created_at = 100,
                            .expires_at = 160};
    mdt_code_issue first = {.access_jti = id(f, "cc_jti"), .family = id(f, "cc_fam"),
                            .expires_at = 5000};
    mdt_code_issue second = {.access_jti = id(f, "cc_jti2"), .family = "", .expires_at = 6000};
    mdt_authz_code_rec got;

    fill_hash(c.hash, 0xc1);
    assert_int_equal(mdt_store_code_insert(f->s, &c, &f->err), MDT_OK);
    /* read without using it, as often as wanted */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mdt_store_code_get(f->s, c.hash, &f->a, &got, &f->err), MDT_OK);
        assert_int_equal(got.used_at, 0);
        assert_string_equal(got.scope, "openid read");
        assert_string_equal(got.client_id, c.client_id);
    }
    assert_int_equal(mdt_store_code_consume(f->s, c.hash, 120, NULL, &f->a, &got, &f->err),
                     MDT_ERR_INTERNAL);
    assert_int_equal(mdt_store_code_consume(f->s, c.hash, 120, &first, &f->a, &got, &f->err),
                     MDT_OK);
    assert_int_equal(got.used_at, 120);
    /* what the code is bound to */
    assert_string_equal(got.redirect_uri, c.redirect_uri);
    assert_true(got.redirect_given);
    assert_string_equal(got.code_challenge, "ch");
    assert_string_equal(got.scope, "openid read");
    assert_string_equal(got.resource, c.resource);
    assert_string_equal(got.nonce, c.nonce);
    assert_int_equal(got.auth_time, 95);
    assert_string_equal(got.amr, "pwd");
    assert_string_equal(got.sid, "sid1");
    assert_string_equal(got.access_jti, first.access_jti);
    assert_string_equal(got.family, first.family);
    assert_int_equal(got.tokens_expire_at, 5000);
    /* the replay sees the first use's ids, and records nothing of its own */
    assert_int_equal(mdt_store_code_consume(f->s, c.hash, 121, &second, &f->a, &got, &f->err),
                     MDT_ERR_CONFLICT);
    assert_string_equal(got.access_jti, first.access_jti);
    assert_string_equal(got.family, first.family);
    assert_int_equal(got.tokens_expire_at, 5000);
    assert_int_equal(mdt_store_code_get(f->s, c.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.used_at, 120);
    fill_hash(c.hash, 0xc2);
    assert_int_equal(mdt_store_code_get(f->s, c.hash, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_code_consume(f->s, c.hash, 121, &second, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
}

/* Device authorizations (RFC 8628): a user code is entered once, a poll
 * too soon is flagged and grows the interval by 5 (up to 300), another
 * client's poll changes nothing, and the device_code is redeemed once. */
static void test_device_codes(void **state)
{
    fx *f = *state;
    mdt_device_rec d = {.client_id = id(f, "dev_client"), .scope = "openid read",
                        .resource = "https://api.example", .interval = 5, .created_at = 100,
                        .expires_at = 700};
    mdt_device_rec got, dup;

    fill_hash(d.hash, 0xd1);
    fill_hash(d.user_hash, 0xd2);
    assert_int_equal(mdt_store_device_insert(f->s, &d, &f->err), MDT_OK);
    dup = d; /* a user code already taken, with another device_code */
    fill_hash(dup.hash, 0xd3);
    assert_int_equal(mdt_store_device_insert(f->s, &dup, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_device_find_user(f->s, d.user_hash, 200, &f->a, &got, &f->err),
                     MDT_OK);
    assert_string_equal(got.client_id, d.client_id);
    assert_string_equal(got.scope, "openid read");
    assert_string_equal(got.resource, d.resource);
    assert_null(got.request_id);
    assert_int_equal(got.interval, 5);
    assert_int_equal(got.expires_at, 700);
    assert_memory_equal(got.hash, d.hash, MDT_HASH_LEN);
    assert_int_equal(mdt_store_device_find_user(f->s, d.user_hash, 700, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND); /* expired */
    /* polls: never polled, then one too soon, then one after the grown interval */
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, id(f, "dev_other"), 200, &f->a, &got,
                                           &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 200, &f->a, &got, &f->err),
                     MDT_OK);
    assert_false(got.slow_down);
    assert_int_equal(got.last_poll, 200);
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 203, &f->a, &got, &f->err),
                     MDT_OK);
    assert_true(got.slow_down);
    assert_int_equal(got.interval, 10);
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 210, &f->a, &got, &f->err),
                     MDT_OK);
    assert_true(got.slow_down); /* 7 s after the last poll, the interval being 10 */
    assert_int_equal(got.interval, 15);
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 225, &f->a, &got, &f->err),
                     MDT_OK);
    assert_false(got.slow_down);
    assert_int_equal(got.interval, 15);
    /* read without a poll: nothing moves */
    assert_int_equal(mdt_store_device_get(f->s, d.hash, id(f, "dev_other"), &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_device_get(f->s, d.hash, d.client_id, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.last_poll, 225);
    assert_int_equal(got.interval, 15);
    assert_string_equal(got.scope, "openid read");
    assert_int_equal(mdt_store_device_get(f->s, d.hash, d.client_id, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.last_poll, 225);
    /* the user code is entered once, before expiry */
    assert_int_equal(mdt_store_device_bind(f->s, d.user_hash, "req_x", 700, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_device_bind(f->s, d.user_hash, "req_1", 230, &f->a, &got, &f->err),
                     MDT_OK);
    assert_string_equal(got.request_id, "req_1");
    assert_int_equal(mdt_store_device_bind(f->s, d.user_hash, "req_2", 231, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_device_find_user(f->s, d.user_hash, 232, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    /* redeemed once, by its client, before expiry */
    assert_int_equal(mdt_store_device_consume(f->s, d.hash, id(f, "dev_other"), 240, &f->a, &got,
                                              &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_device_consume(f->s, d.hash, d.client_id, 700, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_device_consume(f->s, d.hash, d.client_id, 240, &f->a, &got, &f->err),
                     MDT_OK);
    assert_int_equal(got.consumed_at, 240);
    assert_string_equal(got.request_id, "req_1");
    assert_int_equal(mdt_store_device_consume(f->s, d.hash, d.client_id, 241, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    /* a poll still finds it, redeemed */
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 260, &f->a, &got, &f->err),
                     MDT_OK);
    assert_int_equal(got.consumed_at, 240);
    /* kept a day past expiry, then purged */
    assert_int_equal(mdt_store_purge_expired(f->s, 700 + 86400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 700 + 86400, &f->a, &got,
                                           &f->err),
                     MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 701 + 86400, &f->err), MDT_OK);
    assert_int_equal(mdt_store_device_poll(f->s, d.hash, d.client_id, 701 + 86400, &f->a, &got,
                                           &f->err),
                     MDT_ERR_NOT_FOUND);
}

/* Ending a grant: the consent goes, unused codes expire, what used codes
 * issued and the person's refresh tokens for the client are revoked; other
 * people and other clients are untouched; NULL client: every client. */
static void test_grant_revoke(void **state)
{
    fx *f = *state;
    const char *user = id(f, "gr_user"), *other = id(f, "gr_other");
    const char *cl = id(f, "gr_client"), *cl2 = id(f, "gr_client2");
    mdt_authz_code_rec used = {.client_id = cl, .username = user,
                               .redirect_uri = "https://app.example/cb", .code_challenge = "ch",
                               .created_at = 100, .expires_at = 160};
    mdt_authz_code_rec fresh = used, theirs = used, got;
    mdt_code_issue ids = {.access_jti = id(f, "gr_at"), .family = id(f, "gr_fam"),
                          .expires_at = 5000};
    mdt_code_issue ids2 = {.access_jti = id(f, "gr_at2"), .family = "", .expires_at = 5000};
    mdt_refresh_rec rt = {.family = ids.family, .client_id = cl, .subject = user, .scope = "read",
                          .created_at = 130, .expires_at = 5000, .access_jti = id(f, "gr_at3"),
                          .access_exp = 700};
    mdt_refresh_rec rt2 = rt, back;
    mdt_consent_rec con = {.username = user, .client_id = cl, .scope = "read",
                           .created_at = 100, .updated_at = 100};
    mdt_consent_rec con2 = con, got_consent;
    bool revoked = false;

    theirs.username = other;
    fill_hash(used.hash, 0xd1);
    fill_hash(fresh.hash, 0xd2);
    fill_hash(theirs.hash, 0xd3);
    mdt_sha256(id(f, "gr_rt"), strlen(id(f, "gr_rt")), rt.hash);
    rt2.client_id = cl2;
    rt2.family = id(f, "gr_fam2");
    rt2.access_jti = id(f, "gr_at4");
    mdt_sha256(id(f, "gr_rt2"), strlen(id(f, "gr_rt2")), rt2.hash);
    con2.client_id = cl2;
    assert_int_equal(mdt_store_code_insert(f->s, &used, &f->err), MDT_OK);
    assert_int_equal(mdt_store_code_insert(f->s, &fresh, &f->err), MDT_OK);
    assert_int_equal(mdt_store_code_insert(f->s, &theirs, &f->err), MDT_OK);
    assert_int_equal(mdt_store_code_consume(f->s, used.hash, 120, &ids, &f->a, &got, &f->err),
                     MDT_OK);
    assert_int_equal(mdt_store_refresh_insert(f->s, &rt, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_insert(f->s, &rt2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_put(f->s, &con, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_put(f->s, &con2, &f->err), MDT_OK);

    assert_int_equal(mdt_store_grant_revoke(f->s, user, cl, 140, &f->err), MDT_OK);
    assert_int_equal(mdt_store_grant_revoke(f->s, user, cl, 141, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_get(f->s, user, cl, &f->a, &got_consent, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_consent_get(f->s, user, cl2, &f->a, &got_consent, &f->err),
                     MDT_OK);
    /* the unused code can no longer be used; another person's still can */
    assert_int_equal(mdt_store_code_consume(f->s, fresh.hash, 141, &ids2, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_code_consume(f->s, theirs.hash, 141, &ids2, &f->a, &got, &f->err),
                     MDT_OK);
    const char *gone[] = {ids.access_jti, ids.family, rt.access_jti};
    for (size_t i = 0; i < MDT_ARRAY_LEN(gone); i++) {
        revoked = false;
        assert_int_equal(mdt_store_jti_is_revoked(f->s, gone[i], &revoked, &f->err), MDT_OK);
        assert_true(revoked);
    }
    assert_int_equal(mdt_store_refresh_get(f->s, rt.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 140);
    assert_int_equal(mdt_store_refresh_get(f->s, rt2.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 0);
    assert_int_equal(mdt_store_jti_is_revoked(f->s, ids2.access_jti, &revoked, &f->err), MDT_OK);
    assert_false(revoked);
    /* every client */
    assert_int_equal(mdt_store_grant_revoke(f->s, user, NULL, 150, &f->err), MDT_OK);
    assert_int_equal(mdt_store_refresh_get(f->s, rt2.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, 150);
    assert_int_equal(mdt_store_consent_get(f->s, user, cl2, &f->a, &got_consent, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_grant_revoke(f->s, "", NULL, 150, &f->err), MDT_ERR_INTERNAL);
}

static void test_tokens(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "tokens");
    mdt_client_rec c = client(cid, "active");
    mdt_token_rec t = {.jti = id(f, "jti1"), .client_id = cid, .kind = "access",
                       .claims = "{\"scope\":\"a\"}", .issued_at = 100, .expires_at = 400};
    mdt_token_rec got;
    uint8_t unknown[MDT_HASH_LEN];

    fill_hash(t.hash, 0x11);
    fill_hash(unknown, 0x12);
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &t, &f->err), MDT_ERR_CONFLICT);

    assert_int_equal(mdt_store_token_get(f->s, NULL, t.hash, &f->a, &got, &f->err), MDT_OK);
    assert_memory_equal(got.hash, t.hash, MDT_HASH_LEN);
    assert_string_equal(got.jti, t.jti);
    assert_string_equal(got.client_id, cid);
    assert_string_equal(got.kind, "access");
    assert_string_equal(got.claims, t.claims);
    assert_int_equal(got.issued_at, 100);
    assert_int_equal(got.expires_at, 400);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(mdt_store_token_get(f->s, NULL, unknown, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);

    assert_int_equal(mdt_store_token_revoke(f->s, NULL, t.hash, 150, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_revoke(f->s, NULL, t.hash, 160, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_get(f->s, NULL, t.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 150); /* the first revocation stands */
    assert_int_equal(mdt_store_token_revoke(f->s, NULL, unknown, 150, &f->err), MDT_ERR_NOT_FOUND);

    t.client_id = id(f, "no_such_client");
    fill_hash(t.hash, 0x13);
    assert_int_equal(mdt_store_token_insert(f->s, &t, &f->err), MDT_ERR_NOT_FOUND);
}

/* Tokens with an id: found by id (the caller compares the hash), revoked
 * by id and hash; a second row with the same id is refused (two nodes that
 * made the same id fail one token, never overwrite the other). Rows without
 * id (issued before ids) and rows with one are not found the other way. */
static void test_tokens_by_id(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "tokens_id");
    mdt_client_rec c = client(cid, "active");
    mdt_token_rec t = {.has_id = true, .jti = id(f, "jti_id"), .client_id = cid,
                       .kind = "access", .claims = "{}", .issued_at = 100, .expires_at = 400};
    mdt_token_rec old = {.jti = id(f, "jti_old"), .client_id = cid, .kind = "access",
                         .claims = "{}", .issued_at = 100, .expires_at = 400};
    mdt_token_rec dup, got;
    uint8_t other_id[MDT_TOKEN_ID_LEN], wrong[MDT_HASH_LEN];

    memset(t.id, 0x31, sizeof(t.id));
    memset(other_id, 0x32, sizeof(other_id));
    fill_hash(t.hash, 0x31);
    fill_hash(old.hash, 0x33);
    fill_hash(wrong, 0x34);
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &old, &f->err), MDT_OK);

    dup = t;
    fill_hash(dup.hash, 0x35);
    dup.claims = "{\"x\":1}";
    assert_int_equal(mdt_store_token_insert(f->s, &dup, &f->err), MDT_ERR_CONFLICT);

    assert_int_equal(mdt_store_token_get(f->s, t.id, t.hash, &f->a, &got, &f->err), MDT_OK);
    assert_true(got.has_id);
    assert_memory_equal(got.id, t.id, MDT_TOKEN_ID_LEN);
    assert_memory_equal(got.hash, t.hash, MDT_HASH_LEN);
    assert_string_equal(got.claims, "{}");
    assert_int_equal(mdt_store_token_get(f->s, other_id, t.hash, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_token_get(f->s, NULL, t.hash, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_token_get(f->s, NULL, old.hash, &f->a, &got, &f->err), MDT_OK);
    assert_false(got.has_id);

    assert_int_equal(mdt_store_token_revoke(f->s, t.id, wrong, 150, &f->err), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_token_get(f->s, t.id, t.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(mdt_store_token_revoke(f->s, t.id, t.hash, 150, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_revoke(f->s, t.id, t.hash, 160, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_get(f->s, t.id, t.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 150);
    assert_int_equal(mdt_store_token_get(f->s, NULL, old.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(got.revoked_at, 0);
    assert_int_equal(mdt_store_token_revoke(f->s, NULL, old.hash, 170, &f->err), MDT_OK);

    /* the client's deletion takes both */
    assert_int_equal(mdt_store_client_delete(f->s, cid, 1000, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_get(f->s, t.id, t.hash, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_token_get(f->s, NULL, old.hash, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
}

static void test_purge_tokens(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "purge");
    mdt_client_rec c = client(cid, "active");
    mdt_token_rec early = {.jti = "e", .client_id = cid, .kind = "access", .claims = "{}",
                           .issued_at = 1, .expires_at = 1000};
    mdt_token_rec late = early, got;

    late.expires_at = 3000;
    fill_hash(early.hash, 0x21);
    fill_hash(late.hash, 0x22);
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &early, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_insert(f->s, &late, &f->err), MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 999, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_get(f->s, NULL, early.hash, &f->a, &got, &f->err), MDT_OK);
    assert_int_equal(mdt_store_purge_expired(f->s, 1000, &f->err), MDT_OK);
    assert_int_equal(mdt_store_token_get(f->s, NULL, early.hash, &f->a, &got, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_token_get(f->s, NULL, late.hash, &f->a, &got, &f->err), MDT_OK);
}

static void test_jti(void **state)
{
    fx *f = *state;
    const char *jti = id(f, "jwt1");
    bool revoked = true;

    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti, &revoked, &f->err), MDT_OK);
    assert_false(revoked);
    assert_int_equal(mdt_store_jti_revoke(f->s, jti, "c", 2000, 100, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_revoke(f->s, jti, "c", 2000, 110, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti, &revoked, &f->err), MDT_OK);
    assert_true(revoked);
    assert_int_equal(mdt_store_purge_expired(f->s, 1999, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti, &revoked, &f->err), MDT_OK);
    assert_true(revoked);
    assert_int_equal(mdt_store_purge_expired(f->s, 2000, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti, &revoked, &f->err), MDT_OK);
    assert_false(revoked);
}

/* -------------------------------------------------------------- read scopes */

static bool on_sqlite(void) { return strncmp(g_url, "sqlite:", 7) == 0; }

/* A second handle on the same database: another connection, as another
 * thread or node would have. */
static mdt_store *other_store(void)
{
    mdt_store *s = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_store_open(g_url, &s, &err), MDT_OK);
    return s;
}

/* Whether the calling thread's connection has a transaction open. */
static bool conn_in_tx(mdt_store *s)
{
    const mdt_db_driver *drv;
    mdt_db_conn *db;
    mdt_err err = {0};

    assert_int_equal(mdt_store__sql_conn(s, &drv, &db, &err), MDT_OK);
    return drv->in_tx(db);
}

static bool revoked(fx *f, const char *jti)
{
    bool r = false;

    assert_int_equal(mdt_store_jti_is_revoked(f->s, jti, &r, &f->err), MDT_OK);
    return r;
}

/* The reads of a scope see one snapshot (SQLite; PostgreSQL reads the
 * latest commit), the clients counter included; after the scope, the
 * latest commit again, and no transaction is left open. */
static void test_read_scope_snapshot(void **state)
{
    fx *f = *state;
    mdt_store *o = other_store();
    const char *jti = id(f, "scope_jti"), *cid = id(f, "scope_snap");
    mdt_client_rec c = client(cid, "active");
    int64_t v0 = 0, v = 0;

    mdt_store_read_begin(f->s);
    assert_false(revoked(f, jti));
    assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_jti_revoke(o, jti, "c", 4000, 100, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(o, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(revoked(f, jti), !on_sqlite());
    assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
    assert_int_equal(v == v0, on_sqlite());
    mdt_store_read_end(f->s);
    assert_false(conn_in_tx(f->s));
    assert_int_equal(mdt_store_read_reset(f->s), 0);
    assert_true(revoked(f, jti));
    assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
    assert_true(v > v0);
    mdt_store_close(o);
}

/* A write inside a scope ends it first, then runs as outside one (on
 * SQLite it would otherwise start from a snapshot another connection has
 * made stale, and fail); the scope's later reads see what was written. */
static void test_read_scope_write(void **state)
{
    fx *f = *state;
    mdt_store *o = other_store();
    const char *jti = id(f, "scope_w1"), *other = id(f, "scope_w2"), *cid = id(f, "scope_wc");
    mdt_client_rec c = client(cid, "active"), got;
    int64_t v0 = 0, v = 0;

    mdt_store_read_begin(f->s);
    assert_false(revoked(f, jti));
    assert_int_equal(mdt_store_clients_version(f->s, &v0, &f->err), MDT_OK);
    /* another connection commits: this scope's snapshot is now stale */
    assert_int_equal(mdt_store_jti_revoke(o, other, "c", 4000, 100, &f->err), MDT_OK);
    /* a single write statement */
    assert_int_equal(mdt_store_jti_revoke(f->s, jti, "c", 4000, 100, &f->err), MDT_OK);
    assert_true(revoked(f, jti));
    assert_true(revoked(f, other));
    /* a write transaction (BEGIN IMMEDIATE on SQLite) after a read again */
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, cid, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.client_id, cid);
    assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
    assert_true(v > v0); /* the counter read before the write is not served again */
    mdt_store_read_end(f->s);
    assert_false(conn_in_tx(f->s));

    /* a write transaction as the scope's first statement */
    c.client_id = id(f, "scope_wc2");
    mdt_store_read_begin(f->s);
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, c.client_id, &f->a, &got, &f->err), MDT_OK);
    mdt_store_read_end(f->s);
    assert_false(conn_in_tx(f->s));
    mdt_store_close(o);
}

/* Scopes nest: the outermost end closes the transaction. An unbalanced
 * begin is closed by mdt_store_read_reset, an end without a begin does
 * nothing. */
static void test_read_scope_nesting(void **state)
{
    fx *f = *state;
    mdt_store *o = other_store();
    const char *jti = id(f, "scope_n");

    mdt_store_read_end(f->s); /* no scope: nothing */
    mdt_store_read_begin(f->s);
    assert_false(revoked(f, jti));
    mdt_store_read_begin(f->s);
    assert_int_equal(mdt_store_jti_revoke(o, jti, "c", 4000, 100, &f->err), MDT_OK);
    assert_int_equal(revoked(f, jti), !on_sqlite());
    mdt_store_read_end(f->s); /* inner: the snapshot stays */
    assert_int_equal(revoked(f, jti), !on_sqlite());
    mdt_store_read_end(f->s);
    assert_true(revoked(f, jti));
    assert_false(conn_in_tx(f->s));

    mdt_store_read_begin(f->s);
    mdt_store_read_begin(f->s);
    assert_true(revoked(f, jti));
    assert_int_equal(mdt_store_read_reset(f->s), 2);
    assert_int_equal(mdt_store_read_reset(f->s), 0);
    assert_false(conn_in_tx(f->s));
    mdt_store_read_end(f->s);
    mdt_store_close(o);
}

/* The threat a scope brings: one left open pins the SQLite log, which
 * cannot be restarted under it. Many scoped requests interleaved with
 * writes leave nothing open, and the log restarts; a scope left open is
 * seen by the checkpoint, and mdt_store_read_reset releases it. */
static void test_read_scope_wal(void **state)
{
    fx *f = *state;
    mdt_store *o;
    sqlite3 *db = NULL;
    char path[600];
    int64_t v;
    int log = -1, ckpt = -1;

    if (!on_sqlite())
        skip();
    o = other_store();
    snprintf(path, sizeof(path), "%s", g_url + 7);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    /* the connection learns that the file is in WAL mode */
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < 300; i++) {
        const char *jti = mdt_arena_printf(&f->a, "%swal%d", g_prefix, i);
        mdt_store_read_begin(f->s);
        assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
        assert_false(revoked(f, jti));
        assert_int_equal(mdt_store_clients_version(f->s, &v, &f->err), MDT_OK);
        mdt_store_read_end(f->s);
        assert_int_equal(mdt_store_jti_revoke(o, jti, "c", 4000, 100, &f->err), MDT_OK);
    }
    assert_false(conn_in_tx(f->s));
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt),
                     SQLITE_OK);
    assert_int_equal(log, 0); /* restarted: the file is empty */

    /* a scope left open after a write by another connection */
    assert_int_equal(mdt_store_jti_revoke(o, id(f, "wal_pin"), "c", 4000, 100, &f->err), MDT_OK);
    mdt_store_read_begin(f->s);
    assert_true(revoked(f, id(f, "wal_pin")));
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
                     SQLITE_BUSY);
    assert_int_equal(mdt_store_read_reset(f->s), 1);
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    mdt_store_close(o);
}

/* --------------------------------------------------------------------- keys */

static void test_keys(void **state)
{
    fx *f = *state;
    static const uint8_t sealed[] = {0, 1, 2, 0, 255, 7};
    mdt_key_rec k1 = {.kid = id(f, "k1"), .alg = "ES256", .sealed = sealed,
                      .sealed_len = sizeof(sealed), .created_at = 100, .activate_at = 200};
    mdt_key_rec k2 = k1, k3 = k1, *list, *mine[3];
    size_t n, m = 0;

    k2.kid = id(f, "k2");
    k2.created_at = 150;
    k2.activate_at = 100;
    k3.kid = id(f, "k3");
    k3.created_at = 50;
    k3.alg = "RS256";
    assert_int_equal(mdt_store_key_insert(f->s, &k1, &f->err), MDT_OK);
    assert_int_equal(mdt_store_key_insert(f->s, &k2, &f->err), MDT_OK);
    assert_int_equal(mdt_store_key_insert(f->s, &k3, &f->err), MDT_OK);
    assert_int_equal(mdt_store_key_insert(f->s, &k3, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_key_schedule(f->s, k1.kid, 900, 1900, &f->err), MDT_OK);
    assert_int_equal(mdt_store_key_schedule(f->s, id(f, "k9"), 1, 2, &f->err), MDT_ERR_NOT_FOUND);

    assert_int_equal(mdt_store_key_list(f->s, &f->a, &list, &n, &f->err), MDT_OK);
    for (size_t i = 0; i < n && m < 3; i++) {
        if (strncmp(list[i].kid, g_prefix, strlen(g_prefix)) == 0)
            mine[m++] = &list[i];
    }
    assert_int_equal(m, 3);
    assert_string_equal(mine[0]->kid, k2.kid); /* activate_at 100 */
    assert_string_equal(mine[1]->kid, k3.kid); /* activate_at 200, created 50 */
    assert_string_equal(mine[2]->kid, k1.kid); /* activate_at 200, created 100 */
    assert_string_equal(mine[1]->alg, "RS256");
    assert_int_equal(mine[1]->sealed_len, sizeof(sealed));
    assert_ptr_not_equal(mine[1]->sealed, sealed);
    assert_memory_equal(mine[1]->sealed, sealed, sizeof(sealed));
    assert_int_equal(mine[2]->retire_at, 900);
    assert_int_equal(mine[2]->expire_at, 1900);
    assert_int_equal(mine[0]->retire_at, 0);
}

/* -------------------------------------------------------------------- audit */

/* The test chain: SHA-256(prev_hash || seq (8 bytes big-endian) || body). */
static void test_hash(mdt_audit_rec *ev)
{
    uint8_t buf[MDT_HASH_LEN + 8 + 512];
    size_t blen = ev->body ? strlen(ev->body) : 0;
    unsigned int outlen = 0;

    assert_true(blen <= 512);
    memcpy(buf, ev->prev_hash, MDT_HASH_LEN);
    for (int i = 0; i < 8; i++)
        buf[MDT_HASH_LEN + i] = (uint8_t)((uint64_t)ev->seq >> (56 - 8 * i));
    if (blen)
        memcpy(buf + MDT_HASH_LEN + 8, ev->body, blen);
    assert_int_equal(EVP_Digest(buf, MDT_HASH_LEN + 8 + blen, ev->hash, &outlen, EVP_sha256(),
                                NULL), 1);
}

typedef struct {
    int64_t next_seq;         /* expected seq of the next event */
    uint8_t prev[MDT_HASH_LEN];
    size_t count;
    size_t stop_after;        /* 0 = never stop */
    int64_t times[16];
    bool broken;
} chain_check;

static bool check_each(const mdt_audit_rec *ev, void *ctx)
{
    chain_check *cc = ctx;
    mdt_audit_rec copy = *ev;

    if (cc->next_seq && ev->seq != cc->next_seq)
        cc->broken = true;
    if (cc->next_seq && memcmp(ev->prev_hash, cc->prev, MDT_HASH_LEN) != 0)
        cc->broken = true;
    test_hash(&copy);
    if (memcmp(copy.hash, ev->hash, MDT_HASH_LEN) != 0)
        cc->broken = true;
    if (cc->count < MDT_ARRAY_LEN(cc->times))
        cc->times[cc->count] = ev->time;
    cc->count++;
    cc->next_seq = ev->seq + 1;
    memcpy(cc->prev, ev->hash, MDT_HASH_LEN);
    return cc->stop_after == 0 || cc->count < cc->stop_after;
}

/* Seq and hash of the current last event (zeros when empty). */
static int64_t last_event(fx *f, uint8_t hash[MDT_HASH_LEN])
{
    int64_t last = -1;
    chain_check cc = {0};

    memset(hash, 0, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_true(last >= 0);
    if (last > 0) {
        assert_int_equal(mdt_store_audit_each(f->s, last - 1, 0, check_each, &cc, &f->err),
                         MDT_OK);
        assert_int_equal(cc.count, 1);
        memcpy(hash, cc.prev, MDT_HASH_LEN);
    }
    return last;
}

static void test_audit_chain(void **state)
{
    fx *f = *state;
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev), last = 0;
    mdt_audit_rec b1[3] = {{.time = 1000, .type = "token.issued", .body = "{\"i\":1}"},
                           {.time = 1001, .type = "token.refused", .body = "{\"i\":2}"},
                           {.time = 1002, .type = "client.auth_failed", .body = "{\"i\":3}"}};
    mdt_audit_rec b2[2] = {{.time = 2000, .type = "token.issued", .body = "{\"i\":4}"},
                           {.time = 2001, .type = "token.issued", .body = "{\"i\":5}"}};
    chain_check cc = {0};

    assert_int_equal(mdt_store_audit_append(f->s, b1, 3, test_hash, &f->err), MDT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(b1[i].seq, base + 1 + i);
    assert_memory_equal(b1[0].prev_hash, prev, MDT_HASH_LEN);
    assert_memory_equal(b1[1].prev_hash, b1[0].hash, MDT_HASH_LEN);
    assert_memory_equal(b1[2].prev_hash, b1[1].hash, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_append(f->s, b2, 2, test_hash, &f->err), MDT_OK);
    assert_int_equal(b2[0].seq, base + 4);
    assert_memory_equal(b2[0].prev_hash, b1[2].hash, MDT_HASH_LEN); /* across batches */
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base + 5);

    cc.next_seq = base + 1;
    memcpy(cc.prev, prev, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_each(f->s, base, 0, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, 5);
    assert_false(cc.broken);
    assert_memory_equal(cc.prev, b2[1].hash, MDT_HASH_LEN);

    memset(&cc, 0, sizeof(cc));
    assert_int_equal(mdt_store_audit_each(f->s, base, 2000, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, 2);
    assert_int_equal(cc.times[0], 2000);
    assert_int_equal(cc.times[1], 2001);

    memset(&cc, 0, sizeof(cc));
    cc.stop_after = 2;
    assert_int_equal(mdt_store_audit_each(f->s, base + 1, 0, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, 2);
    assert_int_equal(cc.times[0], 1001);
}

/* An event's token row is inserted in the event's transaction: both or
 * neither (a row refused for an unknown client rolls the whole batch back). */
static void test_audit_token_rows(void **state)
{
    fx *f = *state;
    const char *cid = id(f, "audit_rows");
    mdt_client_rec c = client(cid, "active");
    mdt_token_rec t1 = {.jti = id(f, "ar1"), .client_id = cid, .kind = "access",
                        .claims = "{\"scope\":\"a\"}", .issued_at = 100, .expires_at = 400};
    mdt_token_rec t2 = t1, bad = t1;
    mdt_audit_rec b[2] = {{.time = 100, .type = "token.issued", .body = "{\"r\":1}", .token = &t1},
                          {.time = 100, .type = "token.issued", .body = "{\"r\":2}", .token = &bad}};
    mdt_token_rec got;
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev), last = 0;

    fill_hash(t1.hash, 0x71);
    fill_hash(t2.hash, 0x72);
    fill_hash(bad.hash, 0x73);
    t2.jti = id(f, "ar2");
    bad.jti = id(f, "ar3");
    bad.client_id = id(f, "ar_no_such_client");
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);

    assert_int_not_equal(mdt_store_audit_append(f->s, b, 2, test_hash, &f->err), MDT_OK);
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base); /* no event */
    assert_int_equal(mdt_store_token_get(f->s, NULL, t1.hash, &f->a, &got, &f->err), MDT_ERR_NOT_FOUND);

    b[1].token = &t2;
    assert_int_equal(mdt_store_audit_append(f->s, b, 2, test_hash, &f->err), MDT_OK);
    assert_int_equal(b[1].seq, base + 2);
    assert_int_equal(mdt_store_token_get(f->s, NULL, t1.hash, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.jti, t1.jti);
    assert_string_equal(got.claims, t1.claims);
    assert_int_equal(got.expires_at, 400);
    assert_int_equal(mdt_store_token_get(f->s, NULL, t2.hash, &f->a, &got, &f->err), MDT_OK);
    assert_string_equal(got.jti, t2.jti);
}

/* An event carries the premises of its decision: the clients it was made
 * from, at their versions, under a value of the clients counter. It is
 * appended while the counter has not moved, or while its clients' own
 * versions have not; else it alone is left out (MDT_ERR_CONFLICT), and the
 * other events of the call are appended and chained without it. */
static void test_audit_premises(void **state)
{
    fx *f = *state;
    const char *a = id(f, "prem_a"), *b = id(f, "prem_b");
    mdt_client_rec ca = client(a, "active"), cb = client(b, "active"), row;
    mdt_client_check ka, kb;
    mdt_audit_rec ev[3];
    uint8_t prev[MDT_HASH_LEN];
    int64_t base, counter, last = 0;
    chain_check cc = {0};

    assert_int_equal(mdt_store_client_insert(f->s, &ca, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(f->s, &cb, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_clients_version(f->s, &counter, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, a, &f->a, &row, &f->err), MDT_OK);
    ka = (mdt_client_check){.client_id = a, .version = row.version, .clients = counter};
    assert_int_equal(mdt_store_client_get(f->s, b, &f->a, &row, &f->err), MDT_OK);
    kb = (mdt_client_check){.client_id = b, .version = row.version, .clients = counter};

    /* the counter as seen: appended */
    base = last_event(f, prev);
    ev[0] = (mdt_audit_rec){.time = 1, .type = "token.issued", .body = "{\"p\":1}",
                            .checks = &ka, .nchecks = 1};
    assert_int_equal(mdt_store_audit_append(f->s, ev, 1, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_OK);
    assert_int_equal(ev[0].seq, base + 1);

    /* another client changed: the counter moved, a's version did not */
    cb.status = "suspended";
    assert_int_equal(mdt_store_client_update(f->s, &cb, &f->err), MDT_OK);
    ev[0].body = "{\"p\":2}";
    assert_int_equal(mdt_store_audit_append(f->s, ev, 1, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_OK);
    assert_int_equal(ev[0].seq, base + 2);

    /* b changed since kb: its event alone is left out, the others chain */
    ev[0] = (mdt_audit_rec){.time = 2, .type = "token.issued", .body = "{\"p\":3}",
                            .checks = &ka, .nchecks = 1};
    ev[1] = (mdt_audit_rec){.time = 2, .type = "token.issued", .body = "{\"p\":4}",
                            .checks = &kb, .nchecks = 1};
    ev[2] = (mdt_audit_rec){.time = 2, .type = "client.updated", .body = "{\"p\":5}"};
    assert_int_equal(mdt_store_audit_append(f->s, ev, 3, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_OK);
    assert_int_equal(ev[1].refused, MDT_ERR_CONFLICT);
    assert_int_equal(ev[1].seq, 0);
    assert_int_equal(ev[2].refused, MDT_OK);
    assert_int_equal(ev[0].seq, base + 3);
    assert_int_equal(ev[2].seq, base + 4);
    assert_memory_equal(ev[2].prev_hash, ev[0].hash, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base + 4);
    assert_int_equal(mdt_store_audit_each(f->s, base, 0, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, 4);
    assert_false(cc.broken);

    /* a deleted client: left out too; an event with no premises is not */
    assert_int_equal(mdt_store_client_delete(f->s, a, 1000, &f->err), MDT_OK);
    ev[0].body = "{\"p\":6}";
    assert_int_equal(mdt_store_audit_append(f->s, ev, 1, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base + 4);
}

/* An event consumes single-use identifiers in its own transaction: the
 * first append records them; a second one finds them live, and its event is
 * replaced by its replay event (appended and chained in its place) or, with
 * none, left out; an event whose premises fail consumes nothing. */
static void test_audit_uses(void **state)
{
    fx *f = *state;
    const char *iss = id(f, "uses_iss"), *cid = id(f, "uses_client");
    mdt_client_rec c = client(cid, "active");
    mdt_jti_use_rec u = {.issuer = iss, .jti = "jti-1", .expires_at = 5000};
    mdt_jti_use_rec u2 = {.issuer = iss, .jti = "jti-2", .expires_at = 5000};
    mdt_client_check stale = {.client_id = cid, .version = -1, .clients = -1};
    mdt_audit_rec ev[2];
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev), last = 0;
    chain_check cc = {0};

    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    ev[0] = (mdt_audit_rec){.time = 100, .type = "token.issued", .body = "{\"u\":1}", .uses = &u,
                            .nuses = 1, .replay_type = "client.auth_failed",
                            .replay_body = "{\"u\":\"replayed\"}"};
    assert_int_equal(mdt_store_audit_append(f->s, ev, 1, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_OK);
    assert_false(ev[0].replayed);
    assert_int_equal(ev[0].seq, base + 1);
    assert_int_equal(mdt_store_jti_use(f->s, iss, "jti-1", 5000, 100, &f->err), MDT_ERR_CONFLICT);

    /* the same jti again: the replay event in its place */
    ev[0].body = "{\"u\":2}";
    ev[1] = (mdt_audit_rec){.time = 100, .type = "token.issued", .body = "{\"u\":3}", .uses = &u,
                            .nuses = 1};
    assert_int_equal(mdt_store_audit_append(f->s, ev, 2, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_ERR_CONFLICT);
    assert_true(ev[0].replayed);
    assert_int_equal(ev[0].seq, base + 2);
    assert_string_equal(ev[0].type, "client.auth_failed");
    assert_string_equal(ev[0].body, "{\"u\":\"replayed\"}");
    assert_int_equal(ev[1].refused, MDT_ERR_CONFLICT); /* no replay event: left out */
    assert_true(ev[1].replayed);
    assert_int_equal(ev[1].seq, 0);

    /* premises that fail: nothing consumed */
    ev[0] = (mdt_audit_rec){.time = 100, .type = "token.issued", .body = "{\"u\":4}", .uses = &u2,
                            .nuses = 1, .checks = &stale, .nchecks = 1};
    assert_int_equal(mdt_store_audit_append(f->s, ev, 1, test_hash, &f->err), MDT_OK);
    assert_int_equal(ev[0].refused, MDT_ERR_CONFLICT);
    assert_false(ev[0].replayed);
    assert_int_equal(mdt_store_jti_use(f->s, iss, "jti-2", 5000, 100, &f->err), MDT_OK);

    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base + 2);
    assert_int_equal(mdt_store_audit_each(f->s, base, 0, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, 2);
    assert_false(cc.broken);
}

/* A client's events are read by their client_id column, in seq order, with
 * after_seq and since as for every event. */
static void test_audit_each_client(void **state)
{
    fx *f = *state;
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev);
    const char *c1 = id(f, "audit-c1"), *c2 = id(f, "audit-c2");
    mdt_audit_rec b[4] = {{.time = 3000, .type = "token.issued", .body = "{\"i\":1}", .client_id = c1},
                          {.time = 3001, .type = "token.issued", .body = "{\"i\":2}", .client_id = c2},
                          {.time = 3002, .type = "user.created", .body = "{\"i\":3}"},
                          {.time = 3003, .type = "client.suspended", .body = "{\"i\":4}",
                           .client_id = c1}};
    chain_check cc = {0};

    assert_int_equal(mdt_store_audit_append(f->s, b, 4, test_hash, &f->err), MDT_OK);
    assert_int_equal(mdt_store_audit_each_client(f->s, c1, base, 0, check_each, &cc, &f->err),
                     MDT_OK);
    assert_int_equal(cc.count, 2);
    assert_int_equal(cc.times[0], 3000);
    assert_int_equal(cc.times[1], 3003);
    memset(&cc, 0, sizeof(cc));
    assert_int_equal(mdt_store_audit_each_client(f->s, c1, base + 1, 0, check_each, &cc, &f->err),
                     MDT_OK);
    assert_int_equal(cc.count, 1);
    assert_int_equal(cc.times[0], 3003);
    memset(&cc, 0, sizeof(cc));
    assert_int_equal(mdt_store_audit_each_client(f->s, c2, base, 3002, check_each, &cc, &f->err),
                     MDT_OK);
    assert_int_equal(cc.count, 0);
    memset(&cc, 0, sizeof(cc));
    assert_int_equal(mdt_store_audit_each_client(f->s, id(f, "audit-none"), 0, 0, check_each, &cc,
                                                 &f->err),
                     MDT_OK);
    assert_int_equal(cc.count, 0);
}

static void test_audit_head_find_type(void **state)
{
    fx *f = *state;
    const char *type = id(f, "probe.type");
    mdt_audit_rec ev[2] = {{.time = 3000, .type = "token.issued", .body = "{\"h\":1}"},
                           {.time = 3001, .type = type, .body = "{\"h\":2}"}};
    uint8_t head[MDT_HASH_LEN];
    int64_t seq = -1;

    assert_int_equal(mdt_store_audit_find_type(f->s, type, &seq, &f->err), MDT_OK);
    assert_int_equal(seq, 0); /* none yet */
    assert_int_equal(mdt_store_audit_append(f->s, ev, 2, test_hash, &f->err), MDT_OK);
    assert_int_equal(mdt_store_audit_head(f->s, &seq, head, &f->err), MDT_OK);
    assert_int_equal(seq, ev[1].seq);
    assert_memory_equal(head, ev[1].hash, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_find_type(f->s, type, &seq, &f->err), MDT_OK);
    assert_int_equal(seq, ev[1].seq);
}

typedef struct {
    int64_t last_n;
    size_t count;
    bool ordered;
} ckpt_walk;

static bool walk_ckpt(const mdt_audit_checkpoint_rec *c, void *ctx)
{
    ckpt_walk *w = ctx;

    if (c->n != w->last_n + 1 || !c->jws)
        w->ordered = false;
    w->last_n = c->n;
    w->count++;
    return true;
}

static void test_audit_checkpoints(void **state)
{
    fx *f = *state;
    mdt_audit_checkpoint_rec last = {0}, c = {0}, back;
    mdt_audit_rec ev = {.time = 4000, .type = "token.issued", .body = "{\"k\":1}"};
    ckpt_walk w = {.ordered = true};
    mdt_rc rc;

    assert_int_equal(mdt_store_audit_append(f->s, &ev, 1, test_hash, &f->err), MDT_OK);
    rc = mdt_store_audit_checkpoint_last(f->s, &f->a, &last, &f->err);
    assert_true(rc == MDT_OK || rc == MDT_ERR_NOT_FOUND);
    if (rc == MDT_ERR_NOT_FOUND)
        memset(&last, 0, sizeof(last));
    c.n = last.n + 1;
    c.seq = ev.seq;
    c.time = 4000;
    memcpy(c.head, ev.hash, MDT_HASH_LEN);
    c.jws = "eyJ.a.b";
    assert_int_equal(mdt_store_audit_checkpoint_add(f->s, &c, &f->err), MDT_OK);
    assert_int_equal(mdt_store_audit_checkpoint_add(f->s, &c, &f->err), MDT_ERR_CONFLICT);
    c.n++; /* next number, but not beyond the last seq: refused */
    assert_int_equal(mdt_store_audit_checkpoint_add(f->s, &c, &f->err), MDT_ERR_CONFLICT);
    c.n += 1; /* skips a number: refused */
    c.seq = ev.seq + 1;
    assert_int_equal(mdt_store_audit_checkpoint_add(f->s, &c, &f->err), MDT_ERR_CONFLICT);
    assert_int_equal(mdt_store_audit_checkpoint_last(f->s, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.n, last.n + 1);
    assert_int_equal(back.seq, ev.seq);
    assert_int_equal(back.time, 4000);
    assert_memory_equal(back.head, ev.hash, MDT_HASH_LEN);
    assert_string_equal(back.jws, "eyJ.a.b");
    assert_int_equal(mdt_store_audit_checkpoint_each(f->s, walk_ckpt, &w, &f->err), MDT_OK);
    assert_true(w.ordered);
    assert_int_equal(w.count, (size_t)back.n);
}

static void test_audit_key(void **state)
{
    fx *f = *state;
    uint8_t key[MDT_HASH_LEN];

    assert_null(mdt_store_audit_key(f->s));
    memset(key, 7, sizeof(key));
    mdt_store_set_audit_key(f->s, key);
    memset(key, 0, sizeof(key)); /* copied */
    assert_non_null(mdt_store_audit_key(f->s));
    assert_int_equal(mdt_store_audit_key(f->s)[0], 7);
    mdt_store_set_audit_key(f->s, NULL);
    assert_null(mdt_store_audit_key(f->s));
}

static void test_audit_failure_appends_nothing(void **state)
{
    fx *f = *state;
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev), last = -1;
    mdt_audit_rec bad[3] = {{.time = 5, .type = "a", .body = "{}"},
                            {.time = 5, .type = NULL, .body = "{}"}, /* violates NOT NULL */
                            {.time = 5, .type = "c", .body = "{}"}};
    mdt_audit_rec good = {.time = 6, .type = "d", .body = "{\"ok\":true}"};

    assert_int_equal(mdt_store_audit_append(f->s, bad, 3, test_hash, &f->err), MDT_ERR_STORE);
    assert_true(f->err.detail[0] != '\0'); /* the database's message */
    assert_int_equal(bad[0].seq, 0);
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base);

    assert_int_equal(mdt_store_audit_append(f->s, &good, 1, test_hash, &f->err), MDT_OK);
    assert_int_equal(good.seq, base + 1);
    assert_memory_equal(good.prev_hash, prev, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_append(f->s, NULL, 0, test_hash, &f->err), MDT_OK);
}

#define APPENDERS 2
#define BATCHES 40

typedef struct {
    mdt_store *s;
    int which;
    mdt_rc rc;
    size_t appended;
} appender;

static void *append_thread(void *p)
{
    appender *ap = p;
    mdt_err err = {0};

    for (int i = 0; i < BATCHES && ap->rc == MDT_OK; i++) {
        mdt_audit_rec evs[3] = {{.time = 7, .type = "t", .body = "{\"w\":0}"},
                                {.time = 7, .type = "t", .body = "{\"w\":1}"},
                                {.time = 7, .type = "t", .body = "{\"w\":2}"}};
        size_t n = (size_t)(i % 3) + 1;
        ap->rc = mdt_store_audit_append(ap->s, evs, n, test_hash, &err);
        if (ap->rc == MDT_OK)
            ap->appended += n;
    }
    if (ap->which == 0) /* the other thread's connection goes with the thread */
        mdt_store_thread_done(ap->s);
    return NULL;
}

static void test_audit_concurrent(void **state)
{
    fx *f = *state;
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev), last = 0;
    appender ap[APPENDERS];
    pthread_t th[APPENDERS];
    chain_check cc = {0};
    size_t total = 0;

    for (int i = 0; i < APPENDERS; i++) {
        ap[i] = (appender){.s = f->s, .which = i, .rc = MDT_OK};
        assert_int_equal(pthread_create(&th[i], NULL, append_thread, &ap[i]), 0);
    }
    for (int i = 0; i < APPENDERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ap[i].rc, MDT_OK);
        total += ap[i].appended;
    }
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base + (int64_t)total);
    cc.next_seq = base + 1;
    memcpy(cc.prev, prev, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_each(f->s, base, 0, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, total);
    assert_false(cc.broken);
}


/* Two store handles on one database, as two nodes: four writers append at
 * once and the log stays one chain without a gap or a fork. */
#define NODE_WRITERS 4
static void test_audit_two_nodes(void **state)
{
    fx *f = *state;
    mdt_store *other = NULL;
    uint8_t prev[MDT_HASH_LEN];
    int64_t base = last_event(f, prev), last = 0;
    appender ap[NODE_WRITERS];
    pthread_t th[NODE_WRITERS];
    chain_check cc = {0};
    size_t total = 0;

    assert_int_equal(mdt_store_open(g_url, &other, &f->err), MDT_OK);
    for (int i = 0; i < NODE_WRITERS; i++) {
        ap[i] = (appender){.s = i % 2 ? other : f->s, .which = 1, .rc = MDT_OK};
        assert_int_equal(pthread_create(&th[i], NULL, append_thread, &ap[i]), 0);
    }
    for (int i = 0; i < NODE_WRITERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ap[i].rc, MDT_OK);
        total += ap[i].appended;
    }
    mdt_store_close(other);
    assert_int_equal(mdt_store_audit_last_seq(f->s, &last, &f->err), MDT_OK);
    assert_int_equal(last, base + (int64_t)total);
    cc.next_seq = base + 1;
    memcpy(cc.prev, prev, MDT_HASH_LEN);
    assert_int_equal(mdt_store_audit_each(f->s, base, 0, check_each, &cc, &f->err), MDT_OK);
    assert_int_equal(cc.count, total);
    assert_false(cc.broken);
}

/* A rotation racing the revocation of its family, from two threads (two
 * connections): the new token is either refused or revoked with the family,
 * never left alive in it. */
#define FAMILY_RACES 60
typedef struct {
    mdt_store *s;
    pthread_barrier_t *start, *end;
    const mdt_refresh_rec *rot; /* the rotation to insert, per round */
    const char *family;
    mdt_rc rc;
    int which;
} family_racer;

static void *family_race_main(void *p)
{
    family_racer *r = p;
    mdt_err err;

    for (int i = 0; i < FAMILY_RACES; i++) {
        pthread_barrier_wait(r->start);
        if (r->which == 0) {
            r->rc = mdt_store_refresh_insert(r->s, &r->rot[i], &err);
        } else {
            r->rc = mdt_store_refresh_revoke_family(r->s, r->rot[i].family, 500, &err);
        }
        pthread_barrier_wait(r->end);
    }
    mdt_store_thread_done(r->s);
    return NULL;
}

static void test_refresh_rotation_races_revocation(void **state)
{
    fx *f = *state;
    mdt_refresh_rec first[FAMILY_RACES], rot[FAMILY_RACES], got;
    pthread_barrier_t start, end;
    family_racer r[2];
    pthread_t th[2];
    int refused = 0;

    for (int i = 0; i < FAMILY_RACES; i++) {
        char name[128];
        first[i] = (mdt_refresh_rec){.family = mdt_arena_printf(&f->a, "%srace%d", g_prefix, i),
                                     .client_id = id(f, "rc"), .subject = "alice",
                                     .scope = "read", .created_at = 100, .expires_at = 1000};
        snprintf(name, sizeof(name), "%srace_first%d", g_prefix, i);
        mdt_sha256(name, strlen(name), first[i].hash);
        rot[i] = first[i];
        snprintf(name, sizeof(name), "%srace_rot%d", g_prefix, i);
        mdt_sha256(name, strlen(name), rot[i].hash);
        memcpy(rot[i].parent, first[i].hash, MDT_HASH_LEN);
        assert_int_equal(mdt_store_refresh_insert(f->s, &first[i], &f->err), MDT_OK);
    }
    assert_int_equal(pthread_barrier_init(&start, NULL, 3), 0); /* the racers and this thread */
    assert_int_equal(pthread_barrier_init(&end, NULL, 3), 0);
    for (int k = 0; k < 2; k++) {
        r[k] = (family_racer){.s = f->s, .start = &start, .end = &end, .rot = rot, .which = k};
        assert_int_equal(pthread_create(&th[k], NULL, family_race_main, &r[k]), 0);
    }
    for (int i = 0; i < FAMILY_RACES; i++) {
        mdt_rc rc;
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&end); /* both done; neither starts the next round before we check */
        assert_int_equal(r[1].rc, MDT_OK);
        assert_true(r[0].rc == MDT_OK || r[0].rc == MDT_ERR_CONFLICT);
        rc = mdt_store_refresh_get(f->s, rot[i].hash, &f->a, &got, &f->err);
        if (r[0].rc == MDT_ERR_CONFLICT) {
            assert_int_equal(rc, MDT_ERR_NOT_FOUND);
            refused++;
        } else {
            assert_int_equal(rc, MDT_OK);
            assert_int_equal(got.revoked_at, 500); /* joined the family, and went with it */
        }
    }
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_join(th[k], NULL), 0);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&end);
    (void)refused;
}

/* ---------------------------------------------------------------- PostgreSQL */

/* A PostgreSQL that cannot be reached fails the open, naming the URL
 * without its password. Needs no server. */
static void test_pg_unreachable(void **state)
{
    mdt_store *s = (mdt_store *)(uintptr_t)1;
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_store_open("postgresql://alice:s3cr3t@/mandate?host=/nonexistent-mandate"
                                    "-dir&password=0ther&connect_timeout=2", &s, &err),
                     MDT_ERR_UNAVAILABLE);
    assert_null(s);
    assert_string_equal(err.msg, "database cannot be reached");
    assert_non_null(strstr(err.detail, "postgresql://alice:***@/mandate?host=/nonexistent"));
    assert_non_null(strstr(err.detail, "password=***"));
    assert_null(strstr(err.detail, "s3cr3t"));
    assert_null(strstr(err.detail, "0ther"));
    assert_int_equal(mdt_store_open("postgres://bob:pw@/x?host=/nonexistent-mandate-dir", &s, &err),
                     MDT_ERR_UNAVAILABLE);
    assert_null(strstr(err.detail, ":pw@"));
}

/* A thread with its own connection: one lookup, then (when told) another. */
typedef struct {
    mdt_store *s;
    const char *client_id;
    int go[2], ready[2]; /* pipes */
    mdt_rc first, second;
} idle_reader;

static void *idle_reader_main(void *p)
{
    idle_reader *r = p;
    mdt_arena a;
    mdt_client_rec back;
    mdt_err err;
    char b = 0;

    mdt_arena_init(&a, 1024);
    r->first = mdt_store_client_get(r->s, r->client_id, &a, &back, &err);
    if (write(r->ready[1], "r", 1) != 1 || read(r->go[0], &b, 1) != 1)
        r->second = MDT_ERR_INTERNAL;
    else
        r->second = mdt_store_client_get(r->s, r->client_id, &a, &back, &err);
    mdt_arena_free(&a);
    mdt_store_thread_done(r->s);
    return NULL;
}

/* The cluster stopped under an open store: the operation fails as
 * unavailable (503); once it is back, the next operation succeeds on the
 * same store, which reconnected and prepared its statements again, and so
 * does the first operation of a thread whose connection sat idle through the
 * restart (found closed and reset before use, not failed). */
static void test_pg_outage(void **state)
{
    fx *f = *state;
    const char *dir = getenv("MANDATE_TEST_PG_DIR");
    char cmd[512], b = 0;
    mdt_client_rec back;
    mdt_client_rec c = client(id(f, "outage"), "active");
    idle_reader r = {.s = f->s, .first = -1, .second = -1};
    pthread_t th;

    if (!dir || !*dir || strncmp(g_url, "postgres", 8) != 0)
        skip();
    assert_int_equal(mdt_store_client_insert(f->s, &c, NULL, 0, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_get(f->s, c.client_id, &f->a, &back, &f->err), MDT_OK);
    r.client_id = c.client_id;
    assert_int_equal(pipe(r.go), 0);
    assert_int_equal(pipe(r.ready), 0);
    assert_int_equal(pthread_create(&th, NULL, idle_reader_main, &r), 0);
    assert_int_equal(read(r.ready[0], &b, 1), 1);
    assert_int_equal(r.first, MDT_OK);
    snprintf(cmd, sizeof(cmd), "scripts/pg.sh stop '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(mdt_store_client_get(f->s, c.client_id, &f->a, &back, &f->err),
                     MDT_ERR_UNAVAILABLE);
    assert_int_equal(mdt_store_ping(f->s, &f->err), MDT_ERR_UNAVAILABLE); /* still down */
    snprintf(cmd, sizeof(cmd), "scripts/pg.sh start '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(write(r.go[1], "g", 1), 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(r.second, MDT_OK); /* its connection sat idle through the restart */
    for (int i = 0; i < 2; i++) {
        close(r.go[i]);
        close(r.ready[i]);
    }
    assert_int_equal(mdt_store_client_get(f->s, c.client_id, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.client_id, c.client_id);
    c.status = "suspended";
    c.updated_at = 200;
    assert_int_equal(mdt_store_client_update(f->s, &c, &f->err), MDT_OK); /* a transaction too */
    assert_int_equal(mdt_store_client_get(f->s, c.client_id, &f->a, &back, &f->err), MDT_OK);
    assert_string_equal(back.status, "suspended");
}

/* ---------------------------------------------------------------------- run */

static void remove_dir(void)
{
    static const char *const files[] = {"test.db", "test.db-wal", "test.db-shm",
                                        "fresh.db", "fresh.db-wal", "fresh.db-shm"};
    char path[128];

    for (size_t i = 0; i < MDT_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", g_dir, files[i]);
        unlink(path);
    }
    rmdir(g_dir);
}

/* A fresh database beside the one admin_url names: its URL in out. */
static int pg_create(const char *admin_url, const char *name, char *out, size_t n)
{
    const char *auth = strstr(admin_url, "://"), *path, *end;
    char sql[128];
    PGconn *pg;
    PGresult *r;
    int ok;

    if (!auth || !(path = strchr(auth + 3, '/')))
        return -1;
    end = path + 1 + strcspn(path + 1, "?#");
    if (snprintf(out, n, "%.*s/%s%s", (int)(path - admin_url), admin_url, name, end) >= (int)n)
        return -1;
    pg = PQconnectdb(admin_url);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    r = PQexec(pg, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "store: %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    return ok ? 0 : -1;
}

static void pg_drop(const char *admin_url, const char *name)
{
    char sql[128];
    PGconn *pg = PQconnectdb(admin_url);

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
    PQclear(PQexec(pg, sql));
    PQfinish(pg);
}

/* ------------------------------------------------------------------ db copy */

/* Every table of a migrated database is in the copy list, once: a migration
 * that creates a table without listing it fails here (and `db copy` would
 * refuse to run). */
static void test_copy_list_is_the_schema(void **state)
{
    fx *f = *state;
    const mdt_db_driver *drv;
    mdt_db_conn *db;
    mdt_db_stmt *st;
    bool row = false;
    size_t n = 0;

    assert_int_equal(mdt_store__sql_conn(f->s, &drv, &db, &f->err), MDT_OK);
    assert_int_equal(drv->prepare(db, -1, mdt_store__sql_text(drv, Q_CATALOG_TABLES), &st,
                                  &f->err), MDT_OK);
    assert_int_equal(drv->step(st, &row, "tables", &f->err), MDT_OK);
    for (; row; assert_int_equal(drv->step(st, &row, "tables", &f->err), MDT_OK)) {
        const char *t = drv->col_text(st, 0, NULL);
        size_t listed = 0;

        if (strcmp(t, "schema_migrations") == 0)
            continue;
        for (size_t i = 0; i < mdt_store__table_count; i++)
            listed += strcmp(mdt_store__tables[i].name, t) == 0;
        if (listed != 1)
            fail_msg("table %s is listed %zu times in mdt_store__tables (migrations.c)", t,
                     listed);
        n++;
    }
    drv->finalize(st);
    assert_int_equal(n, mdt_store__table_count);
}

/* A SQLite source with rows in tables that reference others, NULL columns
 * and blobs. */
static void copy_fill(const char *url, const char *bad_scope)
{
    const char *const res[] = {"https://api.example/a", "https://api.example/b", NULL};
    mdt_client_rec c = client("copy_client", "active");
    mdt_cred_rec cr = cred("copy_cred", "copy_client", "secret", 5, 0x5a);
    mdt_scope_rec sc = {.name = "copy_scope", .description = NULL, .sensitivity = "none",
                        .resources = res, .created_at = 7};
    mdt_consent_rec co = {.username = "alice", .client_id = "copy_client",
                          .scope = bad_scope ? bad_scope : "openid read", .created_at = 8,
                          .updated_at = 9};
    mdt_refresh_rec rt = {.family = "fam", .client_id = "copy_client", .subject = "alice",
                          .scope = "read", .created_at = 100, .expires_at = 1000,
                          .access_jti = "jti1", .access_exp = 700};
    mdt_store *s = NULL;
    mdt_err err = {0};

    memset(rt.hash, 0xa1, MDT_HASH_LEN);
    memset(rt.parent, 0xb2, MDT_HASH_LEN);
    assert_int_equal(mdt_store_open(url, &s, &err), MDT_OK);
    assert_int_equal(mdt_store_migrate(s, &err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(s, &c, &cr, 1, &err), MDT_OK);
    assert_int_equal(mdt_store_scope_insert(s, &sc, &err), MDT_OK);
    assert_int_equal(mdt_store_refresh_insert(s, &rt, &err), MDT_OK);
    assert_int_equal(mdt_store_consent_put(s, &co, &err), MDT_OK);
    mdt_store_close(s);
}

static void copy_check(const char *url)
{
    mdt_store *s = NULL;
    mdt_err err = {0};
    mdt_arena a;
    mdt_client_rec c;
    mdt_cred_rec cr;
    mdt_scope_rec sc;
    mdt_consent_rec co;
    mdt_refresh_rec rt;
    uint8_t h[MDT_HASH_LEN];
    int64_t version = -1;

    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_store_open(url, &s, &err), MDT_OK);
    assert_int_equal(mdt_store_client_get(s, "copy_client", &a, &c, &err), MDT_OK);
    assert_string_equal(c.metadata, "{\"n\":1}");
    assert_int_equal(c.created_at, 100);
    assert_int_equal(mdt_store_cred_get(s, "copy_cred", &a, &cr, &err), MDT_OK);
    memset(h, 0x5a, sizeof(h));
    assert_memory_equal(cr.hash, h, MDT_HASH_LEN);
    assert_int_equal(mdt_store_scope_get(s, "copy_scope", &a, &sc, &err), MDT_OK);
    assert_null(sc.description); /* NULL stays NULL */
    assert_non_null(sc.resources);
    assert_string_equal(sc.resources[1], "https://api.example/b");
    assert_int_equal(mdt_store_consent_get(s, "alice", "copy_client", &a, &co, &err), MDT_OK);
    assert_string_equal(co.scope, "openid read");
    memset(h, 0xa1, sizeof(h));
    assert_int_equal(mdt_store_refresh_get(s, h, &a, &rt, &err), MDT_OK);
    memset(h, 0xb2, sizeof(h));
    assert_memory_equal(rt.parent, h, MDT_HASH_LEN);
    assert_int_equal(rt.access_exp, 700);
    /* the counter the migrations seed is the source's, not a second row */
    assert_int_equal(mdt_store_clients_version(s, &version, &err), MDT_OK);
    assert_true(version >= 1);
    mdt_store_close(s);
    mdt_arena_free(&a);
}

static void test_copy_to_postgresql(void **state)
{
    const char *admin = getenv("MANDATE_TEST_PG_URL");
    char src[160], bad[160], dst[512], dst2[512], n1[64], n2[80];
    mdt_store_copy_report r;
    mdt_store *s = NULL;
    mdt_client_rec *list;
    mdt_err err = {0};
    mdt_arena a;
    size_t n = 9;

    (void)state;
    if (!g_dir[0] || !admin || !*admin)
        skip(); /* the SQLite pass, beside a PostgreSQL cluster */
    snprintf(src, sizeof(src), "sqlite:%s/copy-src.db", g_dir);
    snprintf(bad, sizeof(bad), "sqlite:%s/copy-bad.db", g_dir);
    snprintf(n1, sizeof(n1), "mandate_copy_%ld_%ld", (long)getpid(), (long)time(NULL));
    snprintf(n2, sizeof(n2), "%s_b", n1);
    assert_int_equal(pg_create(admin, n1, dst, sizeof(dst)), 0);
    assert_int_equal(pg_create(admin, n2, dst2, sizeof(dst2)), 0);
    copy_fill(src, NULL);
    copy_fill(bad, "\xff\xfe not UTF-8"); /* PostgreSQL refuses it: in consents, late in the list */

    /* refusals, before anything is opened */
    assert_int_equal(mdt_store_copy(dst, dst2, &r, &err), MDT_ERR_CONFIG);
    assert_int_equal(mdt_store_copy(src, bad, &r, &err), MDT_ERR_INVALID_REQUEST);

    /* all or nothing: the failed copy leaves no row behind, and a second run is accepted */
    assert_int_not_equal(mdt_store_copy(bad, dst2, &r, &err), MDT_OK);
    mdt_arena_init(&a, 1024);
    assert_int_equal(mdt_store_open(dst2, &s, &err), MDT_OK);
    assert_int_equal(mdt_store_client_list(s, &a, &list, &n, &err), MDT_OK);
    assert_int_equal(n, 0);
    mdt_store_close(s);
    mdt_arena_free(&a);
    assert_int_equal(mdt_store_copy(src, dst2, &r, &err), MDT_OK);
    copy_check(dst2);

    assert_int_equal(mdt_store_copy(src, dst, &r, &err), MDT_OK);
    assert_int_equal(r.tables, mdt_store__table_count);
    assert_int_equal(r.schema_version, mdt_store__schema_latest());
    assert_true(r.rows >= 7);
    copy_check(dst);
    /* a destination with rows is refused */
    assert_int_equal(mdt_store_copy(src, dst, &r, &err), MDT_ERR_CONFLICT);
    pg_drop(admin, n1);
    pg_drop(admin, n2);
}

/* Runs sql on s's connection; with a blob bound as ?1 when blob is not NULL. */
static void exec_sql(mdt_store *s, const char *sql, const uint8_t *blob)
{
    const mdt_db_driver *drv;
    mdt_db_conn *db;
    mdt_db_stmt *st;
    mdt_err err = {0};
    bool row;

    assert_int_equal(mdt_store__sql_conn(s, &drv, &db, &err), MDT_OK);
    if (!blob) {
        if (drv->exec(db, sql, "test", &err) != MDT_OK)
            fail_msg("%s: %s", sql, err.detail);
        return;
    }
    assert_int_equal(drv->prepare(db, -1, sql, &st, &err), MDT_OK);
    assert_int_equal(drv->bind_blob(st, 1, blob, MDT_HASH_LEN), 0);
    if (drv->step(st, &row, "test", &err) != MDT_OK)
        fail_msg("%s: %s", sql, err.detail);
    drv->finalize(st);
}

/* A database at version 13, with authorization requests and codes in their
 * old shape (JSON text in params): the migration to typed columns converts
 * them, and the store reads them as the typed records. */
static void test_upgrade_typed_authorization(void **state)
{
    const char *admin = getenv("MANDATE_TEST_PG_URL");
    const mdt_db_driver *drv;
    mdt_db_conn *db;
    char url[512], name[80], sql[160];
    uint8_t h1[MDT_HASH_LEN], h2[MDT_HASH_LEN];
    mdt_code_issue ids = {.access_jti = "jti", .family = "", .expires_at = 5000};
    mdt_authz_request_rec r;
    mdt_authz_code_rec c;
    mdt_store *s = NULL;
    mdt_err err = {0};
    mdt_arena a;
    int v = 0;

    (void)state;
    name[0] = '\0';
    if (g_dir[0]) {
        snprintf(url, sizeof(url), "sqlite:%s/upgrade.db", g_dir);
    } else if (admin && *admin) {
        snprintf(name, sizeof(name), "mandate_upgrade_%ld_%ld", (long)getpid(), (long)time(NULL));
        assert_int_equal(pg_create(admin, name, url, sizeof(url)), 0);
    } else {
        skip();
    }
    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_store_open(url, &s, &err), MDT_OK);
    assert_int_equal(mdt_store__sql_conn(s, &drv, &db, &err), MDT_OK);
    exec_sql(s, mdt_store__sql_text(drv, Q_MIGRATIONS_CREATE), NULL);
    for (size_t i = 0; i < mdt_store__migration_count && mdt_store__migrations[i].version <= 13;
         i++) {
        char *m = mdt_store__migration_render(&mdt_store__migrations[i], drv->dialect);

        assert_non_null(m);
        exec_sql(s, m, NULL);
        free(m);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations (version,name) VALUES (%d,'t')",
                 mdt_store__migrations[i].version);
        exec_sql(s, sql, NULL);
    }
    assert_int_equal(mdt_store_schema_version(s, &v, &err), MDT_OK);
    assert_int_equal(v, 13);
    exec_sql(s, "INSERT INTO authz_requests (id,client_id,params,created_at,expires_at) VALUES "
                "('old1','c1','{\"client_id\":\"c1\",\"code_challenge\":\"ch\",\"form_post\":true,"
                "\"login_after\":0,\"max_age\":-1,\"nonce\":\"n1\",\"prompt\":\"login\","
                "\"pushed\":true,\"redirect_given\":true,\"redirect_uri\":\"https://app/cb\","
                "\"resource\":\"https://api.example\",\"scope\":\"openid read\","
                "\"state\":\"s1\"}',100,200),"
                "('old2','c1','{\"client_id\":\"c1\",\"code_challenge\":\"ch2\",\"login_after\":50,"
                "\"max_age\":300,\"redirect_given\":false,\"redirect_uri\":\"https://app/cb\","
                "\"scope\":\"\"}',100,200)",
             NULL);
    memset(h1, 0x71, sizeof(h1));
    memset(h2, 0x72, sizeof(h2));
    exec_sql(s, "INSERT INTO authz_codes (hash,client_id,username,params,created_at,expires_at) "
                "VALUES (?1,'c1','alice','{\"amr\":\"pwd\",\"auth_time\":95,\"code_challenge\":"
                "\"ch\",\"nonce\":\"n1\",\"redirect_given\":true,\"redirect_uri\":"
                "\"https://app/cb\",\"resource\":\"https://api.example\",\"scope\":"
                "\"openid read\",\"sid\":\"sid1\"}',100,160)",
             h1);
    exec_sql(s, "INSERT INTO authz_codes (hash,client_id,username,params,created_at,expires_at) "
                "VALUES (?1,'c1','alice','{\"amr\":\"pwd\",\"auth_time\":96,\"code_challenge\":"
                "\"ch2\",\"redirect_given\":false,\"redirect_uri\":\"https://app/cb\","
                "\"scope\":\"read\"}',100,160)",
             h2);

    assert_int_equal(mdt_store_migrate(s, &err), MDT_OK);
    assert_int_equal(mdt_store_schema_version(s, &v, &err), MDT_OK);
    assert_int_equal(v, mdt_store__schema_latest());

    assert_int_equal(mdt_store_authz_request_get(s, "old1", 150, &a, &r, &err), MDT_OK);
    assert_string_equal(r.client_id, "c1");
    assert_string_equal(r.redirect_uri, "https://app/cb");
    assert_true(r.redirect_given);
    assert_string_equal(r.scope, "openid read");
    assert_string_equal(r.resource, "https://api.example");
    assert_string_equal(r.state, "s1");
    assert_string_equal(r.nonce, "n1");
    assert_string_equal(r.code_challenge, "ch");
    assert_string_equal(r.prompt, "login");
    assert_int_equal(r.max_age, -1);
    assert_true(r.pushed);
    assert_true(r.form_post);
    assert_int_equal(mdt_store_authz_request_take(s, "old2", 150, &a, &r, &err), MDT_OK);
    assert_false(r.redirect_given);
    assert_string_equal(r.scope, "");
    assert_null(r.resource);
    assert_null(r.state);
    assert_null(r.nonce);
    assert_null(r.prompt);
    assert_int_equal(r.max_age, 300);
    assert_int_equal(r.login_after, 50);
    assert_false(r.pushed);
    assert_false(r.form_post);

    assert_int_equal(mdt_store_code_consume(s, h1, 120, &ids, &a, &c, &err), MDT_OK);
    assert_string_equal(c.redirect_uri, "https://app/cb");
    assert_true(c.redirect_given);
    assert_string_equal(c.code_challenge, "ch");
    assert_string_equal(c.scope, "openid read");
    assert_string_equal(c.resource, "https://api.example");
    assert_string_equal(c.nonce, "n1");
    assert_int_equal(c.auth_time, 95);
    assert_string_equal(c.amr, "pwd");
    assert_string_equal(c.sid, "sid1");
    assert_int_equal(mdt_store_code_consume(s, h2, 120, &ids, &a, &c, &err), MDT_OK);
    assert_false(c.redirect_given);
    assert_null(c.resource);
    assert_null(c.nonce);
    assert_null(c.sid);
    assert_int_equal(c.auth_time, 96);
    mdt_store_close(s);
    mdt_arena_free(&a);
    if (name[0])
        pg_drop(admin, name);
}

int main(void)
{
    const char *env = getenv("MANDATE_TEST_STORE");
    const char *pg = getenv("MANDATE_TEST_PG_URL");
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_migrate_fresh_sqlite),
        cmocka_unit_test(test_render_placeholders),
        cmocka_unit_test(test_render_json_placeholders),
        cmocka_unit_test(test_upgrade_typed_authorization),
        cmocka_unit_test(test_pg_unreachable),
        cmocka_unit_test(test_copy_to_postgresql),
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_migrate_idempotent),
        T(test_copy_list_is_the_schema),
        T(test_ping),
        T(test_clients),
        T(test_client_delete_cascades),
        T(test_client_insert_atomic),
        T(test_creds),
        T(test_clients_version),
        T(test_clients_version_recent),
        T(test_cred_lookup),
        T(test_jti_use),
        T(test_iat),
        T(test_requests),
        T(test_votes),
        T(test_request_list_pending),
        T(test_votes_concurrent),
        T(test_request_expire_due),
        T(test_outbox),
        T(test_outbox_claim_concurrent),
        T(test_ciba),
        T(test_single_use),
        T(test_entitlements),
        T(test_rate),
        T(test_rate_peek),
        T(test_rate_release),
        T(test_sessions),
        T(test_session_revoke_user),
        T(test_background),
        T(test_scopes),
        T(test_users),
        T(test_tokens),
        T(test_tokens_by_id),
        T(test_refresh_family),
        T(test_refresh_rotation_races_revocation),
        T(test_refresh_revoke_client),
        T(test_usage),
        T(test_review_decisions),
        T(test_policies),
        T(test_code_consume_records),
        T(test_grant_revoke),
        T(test_device_codes),
        T(test_authz_requests),
        T(test_consents),
        T(test_purge_tokens),
        T(test_jti),
        T(test_read_scope_snapshot),
        T(test_read_scope_write),
        T(test_read_scope_nesting),
        T(test_read_scope_wal),
        T(test_keys),
        T(test_audit_chain),
        T(test_audit_token_rows),
        T(test_audit_premises),
        T(test_audit_uses),
        T(test_audit_each_client),
        T(test_audit_head_find_type),
        T(test_audit_checkpoints),
        T(test_audit_key),
        T(test_audit_failure_appends_nothing),
        T(test_audit_concurrent),
        T(test_audit_two_nodes),
        T(test_pg_outage), /* last: it stops and starts the cluster */
#undef T
    };

    snprintf(g_prefix, sizeof(g_prefix), "t%ld_%ld_", (long)getpid(), (long)time(NULL));
    if (env && *env) {
        snprintf(g_url, sizeof(g_url), "%s", env);
        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
    }
    snprintf(g_dir, sizeof(g_dir), "/tmp/mandate-store-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_url, sizeof(g_url), "sqlite:%s/test.db", g_dir);
    rc = cmocka_run_group_tests_name("store (sqlite)", tests, NULL, NULL);
    remove_dir();
    g_dir[0] = '\0';
    if (pg && *pg) { /* the same suite on a fresh PostgreSQL database */
        char name[64];
        snprintf(name, sizeof(name), "mandate_store_%ld_%ld", (long)getpid(), (long)time(NULL));
        if (pg_create(pg, name, g_url, sizeof(g_url)) != 0)
            return 1;
        rc |= cmocka_run_group_tests_name("store (postgresql)", tests, NULL, NULL);
        pg_drop(pg, name);
    }
    return rc;
}
