/* The audit log against a real SQLite store in a temporary directory:
 * chain, group commit, export, tamper detection and failure paths. */
#include "unit.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "audit/audit.h"
#include "store/store.h"

typedef struct {
    char dir[64];
    char path[96];
    char url[112];
    mdt_store *store;
    test_clock tc;
    mdt_clock clock;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    mdt_err err = {0};

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mdt_audit_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/a.db", f->dir);
    snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    assert_int_equal(mdt_store_open(f->url, &f->store, &err), MDT_OK);
    assert_int_equal(mdt_store_migrate(f->store, &err), MDT_OK);
    f->tc.t = 1700000000;
    f->clock.now = test_clock_now;
    f->clock.ctx = &f->tc;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char p[128];

    mdt_store_close(f->store);
    unlink(f->path);
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-journal", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs SQL on the database file behind the store's back. */
static void tamper(fx *f, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("tamper: %s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static mdt_audit_event simple(const char *type, const char *subject)
{
    return (mdt_audit_event){.type = type, .actor = "cli", .subject = subject, .decision = "allow"};
}

static void record_n(fx *f, mdt_audit *a, int n)
{
    mdt_err err = {0};
    for (int i = 0; i < n; i++) {
        char subj[32];
        mdt_audit_event ev;
        snprintf(subj, sizeof(subj), "user%d", i);
        ev = simple("token.issued", subj);
        f->tc.t++;
        assert_int_equal(mdt_audit_record(a, &ev, &err), MDT_OK);
    }
}

static void expect_verify(fx *f, mdt_rc want, int64_t want_count, int64_t want_bad)
{
    mdt_err err = {0};
    int64_t count = -1, bad = -1;

    assert_int_equal(mdt_audit_verify(f->store, &count, &bad, &err), want);
    assert_int_equal(count, want_count);
    assert_int_equal(bad, want_bad);
}

/* A writer with 5 events, stopped. */
static void five_events(fx *f)
{
    mdt_audit *a = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_audit_start(f->store, &f->clock, 8, &a, &err), MDT_OK);
    record_n(f, a, 5);
    mdt_audit_stop(a);
    expect_verify(f, MDT_OK, 5, 0);
}

static void test_record_verify(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    int64_t last = 0;
    mdt_audit_event ev = {.type = "client.created", .actor = "cli", .client_id = "c1",
                          .data = "{\"scope\":\"a b\"}"};

    expect_verify(f, MDT_OK, 0, 0); /* empty chain */
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 0, &a, &err), MDT_OK);
    assert_int_equal(mdt_audit_record(a, &ev, &err), MDT_OK);
    /* durable when record returns: visible through the store at once */
    assert_int_equal(mdt_store_audit_last_seq(f->store, &last, &err), MDT_OK);
    assert_int_equal(last, 1);
    record_n(f, a, 2);
    mdt_audit_stop(a);
    expect_verify(f, MDT_OK, 3, 0);
}

/* --- group commit from 4 threads --- */

typedef struct {
    mdt_audit *a;
    pthread_mutex_t mu;
    int ok, failed, submit_errors;
} shared;

static void count_done(void *ctx, mdt_rc rc)
{
    shared *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (rc == MDT_OK)
        s->ok++;
    else
        s->failed++;
    pthread_mutex_unlock(&s->mu);
}

static void *producer(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < 250; i++) {
        mdt_err err = {0};
        mdt_audit_event ev = {.type = "token.issued", .client_id = "c", .decision = "allow",
                              .data = "{\"jti\":\"j\",\"n\":[1,2.5e3,-0,true,null]}"};
        if (mdt_audit_submit(s->a, &ev, count_done, s, &err) != MDT_OK) {
            pthread_mutex_lock(&s->mu);
            s->submit_errors++;
            pthread_mutex_unlock(&s->mu);
        }
    }
    return NULL;
}

static void test_concurrent_group_commit(void **state)
{
    fx *f = *state;
    shared s = {0};
    pthread_t th[4];
    mdt_err err = {0};
    uint64_t commits = 0, events = 0;

    pthread_mutex_init(&s.mu, NULL);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 64, &s.a, &err), MDT_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, producer, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    mdt_audit_stop(s.a); /* drains */
    /* stop joined the writer: every callback has run */
    assert_int_equal(s.submit_errors, 0);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.ok, 1000);
    expect_verify(f, MDT_OK, 1000, 0);
    pthread_mutex_destroy(&s.mu);

    /* stats: a second writer, so the numbers are read before stop frees it */
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.mu, NULL);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 64, &s.a, &err), MDT_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, producer, &s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2000 && events < 1000; i++) {
        usleep(5000);
        mdt_audit_stats(s.a, &commits, &events);
    }
    assert_int_equal(events, 1000);
    assert_true(commits >= 1000 / 64);
    assert_true(commits < 1000); /* events really were grouped */
    mdt_audit_stop(s.a);
    assert_int_equal(s.ok, 1000);
    expect_verify(f, MDT_OK, 2000, 0);
    pthread_mutex_destroy(&s.mu);
}

/* --- export --- */

static char *export_text(fx *f, int64_t since)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    mdt_err err = {0};
    mdt_audit_filter flt = {.since = since};

    assert_non_null(m);
    assert_int_equal(mdt_audit_export(f->store, &flt, m, &err), MDT_OK);
    fclose(m);
    return text;
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(s), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* Recomputes a line's hash from the line alone, as audit.c documents an
 * operator would. */
static void check_line_hash(const char *line, size_t len, json_t *o)
{
    const char *comma = strchr(line, ',');
    size_t tail = 154, start;
    char *body;
    uint8_t prev[32], want[32], got[32], be[16];
    int64_t seq = json_integer_value(json_object_get(o, "seq")), t = 0;
    const char *type = json_string_value(json_object_get(o, "type"));
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    assert_non_null(comma);
    start = (size_t)(comma - line) + 1;
    assert_true(len > start + tail);
    body = calloc(1, len - start - tail + 3);
    body[0] = '{';
    memcpy(body + 1, line + start, len - start - tail);
    body[len - start - tail + 1] = '}';
    assert_int_equal(mdt_time_parse(json_string_value(json_object_get(o, "time")), &t), MDT_OK);
    unhex(json_string_value(json_object_get(o, "prev_hash")), prev, 32);
    unhex(json_string_value(json_object_get(o, "hash")), want, 32);
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
        be[8 + i] = (uint8_t)((uint64_t)t >> (56 - 8 * i));
    }
    assert_true(EVP_DigestInit_ex(md, EVP_sha256(), NULL));
    EVP_DigestUpdate(md, prev, 32);
    EVP_DigestUpdate(md, be, 16);
    EVP_DigestUpdate(md, type, strlen(type) + 1);
    EVP_DigestUpdate(md, body, strlen(body));
    assert_true(EVP_DigestFinal_ex(md, got, NULL));
    assert_memory_equal(got, want, 32);
    EVP_MD_CTX_free(md);
    free(body);
}

/* Parses NDJSON; returns the lines' objects in a JSON array. */
static json_t *parse_lines(char *text, bool check_hashes)
{
    json_t *arr = json_array();
    char *line = text, *nl;

    while ((nl = strchr(line, '\n'))) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, &je);
        if (!o)
            fail_msg("bad NDJSON line: %s", je.text);
        assert_true(json_is_object(o));
        if (check_hashes)
            check_line_hash(line, (size_t)(nl - line), o);
        json_array_append_new(arr, o);
        line = nl + 1;
    }
    assert_string_equal(line, ""); /* ends with a newline */
    return arr;
}

static void test_export(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    char *text;
    json_t *arr, *o;
    mdt_audit_event ev = {.type = "token.refused", .actor = "c\"1", .client_id = "c\"1",
                          .decision = "deny", .reason = "invalid_scope: scope 'x'\n not entitled",
                          .request_id = "r1", .ip = "127.0.0.1",
                          .data = " {\n \"scope\" : \"a b\", \"aud\":[\"https://x\"]\t} "};

    assert_int_equal(mdt_audit_start(f->store, &f->clock, 0, &a, &err), MDT_OK);
    f->tc.t = 1000;
    assert_int_equal(mdt_audit_record(a, &ev, &err), MDT_OK);
    f->tc.t = 2000;
    ev.subject = "alice";
    assert_int_equal(mdt_audit_record(a, &ev, &err), MDT_OK);
    f->tc.t = 3000;
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "key.rotated"}, &err), MDT_OK);
    mdt_audit_stop(a);

    text = export_text(f, 0);
    arr = parse_lines(text, true);
    assert_int_equal(json_array_size(arr), 3);
    o = json_array_get(arr, 0);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "time")), "1970-01-01T00:16:40Z");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "token.refused");
    assert_string_equal(json_string_value(json_object_get(o, "client_id")), "c\"1");
    assert_string_equal(json_string_value(json_object_get(o, "reason")), "invalid_scope: scope 'x'\n not entitled");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "data"), "scope")), "a b");
    assert_null(json_object_get(o, "subject"));
    assert_string_equal(json_string_value(json_object_get(o, "prev_hash")),
                        "0000000000000000000000000000000000000000000000000000000000000000");
    /* chained: each prev_hash is the previous line's hash */
    for (size_t i = 1; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, i), "prev_hash")),
                            json_string_value(json_object_get(json_array_get(arr, i - 1), "hash")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "subject")), "alice");
    /* key order: seq first, then the body's fields, then the hashes */
    assert_true(strncmp(text, "{\"seq\":1,\"time\":\"1970-01-01T00:16:40Z\",\"type\":\"token.refused\",\"actor\":", 70) == 0);
    json_decref(arr);
    free(text);

    text = export_text(f, 2000); /* since filters */
    arr = parse_lines(text, true);
    assert_int_equal(json_array_size(arr), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "seq")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 1), "seq")), 3);
    json_decref(arr);
    free(text);

    text = export_text(f, 3001);
    assert_string_equal(text, "");
    free(text);
}

static void test_body_canonical(void **state)
{
    char *body = NULL;
    mdt_err err = {0};
    mdt_audit_event ev = {.type = "token.issued", .actor = "svc", .client_id = "c1", .subject = "s",
                          .decision = "allow", .reason = "ok", .request_id = "rq", .ip = "::1",
                          .data = "{ \"a\" : [ 1 , { } , [ ] , \"x\\u00e9\\ud83d\\ude00\" ] }"};
    (void)state;

    assert_int_equal(mdt_audit_body(&ev, 1700000000, &body, &err), MDT_OK);
    assert_string_equal(body, "{\"time\":\"2023-11-14T22:13:20Z\",\"type\":\"token.issued\",\"actor\":\"svc\","
                              "\"client_id\":\"c1\",\"subject\":\"s\",\"decision\":\"allow\",\"reason\":\"ok\","
                              "\"request_id\":\"rq\",\"ip\":\"::1\","
                              "\"data\":{\"a\":[1,{},[],\"x\\u00e9\\ud83d\\ude00\"]}}");
    free(body);

    /* NULL optional fields are omitted */
    assert_int_equal(mdt_audit_body(&(mdt_audit_event){.type = "key.rotated"}, 0, &body, &err), MDT_OK);
    assert_string_equal(body, "{\"time\":\"1970-01-01T00:00:00Z\",\"type\":\"key.rotated\"}");
    free(body);

    /* invalid UTF-8 becomes U+FFFD; control bytes are escaped; long fields are cut */
    {
        char longs[3000];
        memset(longs, 'x', sizeof(longs) - 1);
        longs[sizeof(longs) - 1] = '\0';
        ev = (mdt_audit_event){.type = "t", .actor = "a\xff\x01", .reason = longs};
        assert_int_equal(mdt_audit_body(&ev, 0, &body, &err), MDT_OK);
        assert_non_null(strstr(body, "\"actor\":\"a\xef\xbf\xbd\\u0001\""));
        assert_non_null(strstr(body, "\"reason\":\""));
        assert_int_equal(strlen(strstr(body, "\"reason\":\"")), 10 + MDT_AUDIT_FIELD_MAX + 2);
        free(body);
    }
}

static void test_null_fields_recorded(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    char *text;
    json_t *arr;

    assert_int_equal(mdt_audit_start(f->store, &f->clock, 0, &a, &err), MDT_OK);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "scope.created"}, &err), MDT_OK);
    assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "client.deleted", .actor = "cli"},
                                      NULL, NULL, &err), MDT_OK);
    mdt_audit_stop(a);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &(mdt_audit_event){.type = "key.rotated"}, &err),
                     MDT_OK);
    expect_verify(f, MDT_OK, 3, 0);
    text = export_text(f, 0);
    arr = parse_lines(text, true);
    assert_int_equal(json_array_size(arr), 3);
    assert_int_equal(json_object_size(json_array_get(arr, 0)), 5); /* seq time type prev_hash hash */
    assert_int_equal(json_object_size(json_array_get(arr, 1)), 6);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "type")), "key.rotated");
    json_decref(arr);
    free(text);
}

static void test_invalid_rejected(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    static const char *bad_data[] = {
        "[1]", "\"x\"", "1", "", "   ", "{", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "{,}", "not json",
        "{\"a\":1} x", "{\"a\":1}{}", "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\":[1,2}", "{\"a\":\"unterminated}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", /* too deep */
    };

    assert_int_equal(mdt_audit_start(f->store, &f->clock, 0, &a, &err), MDT_OK);
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad_data); i++) {
        mdt_audit_event ev = {.type = "token.issued", .data = bad_data[i]};
        char *body = (char *)"sentinel";
        if (mdt_audit_record(a, &ev, &err) != MDT_ERR_INVALID_REQUEST)
            fail_msg("accepted data %s", bad_data[i]);
        assert_int_equal(mdt_audit_submit(a, &ev, NULL, NULL, &err), MDT_ERR_INVALID_REQUEST);
        assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &ev, &err), MDT_ERR_INVALID_REQUEST);
        assert_int_equal(mdt_audit_body(&ev, 0, &body, &err), MDT_ERR_INVALID_REQUEST);
        assert_null(body);
    }
    /* too large */
    {
        char *big = malloc(MDT_AUDIT_DATA_MAX + 16);
        memset(big, ' ', MDT_AUDIT_DATA_MAX + 15);
        big[0] = '{';
        big[MDT_AUDIT_DATA_MAX + 14] = '}';
        big[MDT_AUDIT_DATA_MAX + 15] = '\0';
        assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "t", .data = big}, &err),
                         MDT_ERR_INVALID_REQUEST);
        free(big);
    }
    /* type: required, [a-z0-9._-] */
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.actor = "x"}, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = ""}, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "Token Issued"}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "a\"b"}, &err), MDT_ERR_INVALID_REQUEST);
    /* valid edge cases are accepted */
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "t", .data = "{}"}, &err), MDT_OK);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "t", .data = "{\"a\":{\"b\":[-1.5E+3,0,false]}}"}, &err),
                     MDT_OK);
    mdt_audit_stop(a);
    expect_verify(f, MDT_OK, 2, 0); /* nothing invalid reached the chain */
}

/* --- tampering --- */

static void test_tamper_body(void **state)
{
    fx *f = *state;
    five_events(f);
    tamper(f, "UPDATE audit_events SET body = replace(body, 'user2', 'mallory') WHERE seq = 3");
    expect_verify(f, MDT_ERR_VERIFY, 2, 3);
}

static void test_tamper_delete(void **state)
{
    fx *f = *state;
    five_events(f);
    tamper(f, "DELETE FROM audit_events WHERE seq = 3");
    expect_verify(f, MDT_ERR_VERIFY, 2, 4);
}

static void test_tamper_delete_first(void **state)
{
    fx *f = *state;
    five_events(f);
    tamper(f, "DELETE FROM audit_events WHERE seq = 1");
    expect_verify(f, MDT_ERR_VERIFY, 0, 2);
}

static void test_tamper_swap(void **state)
{
    fx *f = *state;
    five_events(f);
    tamper(f, "UPDATE audit_events SET body = CASE seq WHEN 2 THEN (SELECT body FROM audit_events WHERE seq = 4)"
              " ELSE (SELECT body FROM audit_events WHERE seq = 2) END WHERE seq IN (2, 4)");
    expect_verify(f, MDT_ERR_VERIFY, 1, 2);
}

typedef struct {
    int64_t seq, time;
    char type[64], body[512];
    uint8_t prev_hash[32];
} saved_rec;

static bool save_rec(const mdt_audit_rec *ev, void *ctx)
{
    saved_rec *r = ctx;
    r->seq = ev->seq;
    r->time = ev->time;
    snprintf(r->type, sizeof(r->type), "%s", ev->type);
    snprintf(r->body, sizeof(r->body), "%s", ev->body);
    memcpy(r->prev_hash, ev->prev_hash, 32);
    return false; /* just the first */
}

/* Rewrites event seq's body and recomputes its own hash, as a forger would. */
static void forge(fx *f, int64_t seq, const char *from, const char *to)
{
    saved_rec r = {0};
    mdt_audit_rec ev;
    mdt_err err = {0};
    char body[600], *at;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    assert_int_equal(mdt_store_audit_each(f->store, seq - 1, 0, save_rec, &r, &err), MDT_OK);
    assert_int_equal(r.seq, seq);
    assert_non_null(at = strstr(r.body, from));
    snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - r.body), r.body, to, at + strlen(from));
    ev = (mdt_audit_rec){.seq = r.seq, .time = r.time, .type = r.type, .body = body};
    memcpy(ev.prev_hash, r.prev_hash, 32);
    assert_int_equal(mdt_audit_hash(&ev, ev.hash, &err), MDT_OK);
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit_events SET body = ?1, hash = ?2 WHERE seq = ?3", -1,
                                        &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, body, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, ev.hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_tamper_time_and_forged_hash(void **state)
{
    fx *f = *state;
    char *text;

    five_events(f);
    tamper(f, "UPDATE audit_events SET time = time + 1 WHERE seq = 2");
    expect_verify(f, MDT_ERR_VERIFY, 1, 2);
    tamper(f, "UPDATE audit_events SET time = time - 1 WHERE seq = 2");
    expect_verify(f, MDT_OK, 5, 0);
    /* an edit whose own hash is recomputed still breaks the next link */
    forge(f, 3, "user2", "mallory");
    expect_verify(f, MDT_ERR_VERIFY, 3, 4);
    /* export still writes every line, as valid NDJSON */
    text = export_text(f, 0);
    json_decref(parse_lines(text, false));
    free(text);
}

/* --- append_now from another handle, interleaved with the writer --- */

typedef struct {
    mdt_audit *a;
    int failures;
} rec_arg;

static void *recorder(void *arg)
{
    rec_arg *r = arg;
    for (int i = 0; i < 60; i++) {
        mdt_err err = {0};
        mdt_audit_event ev = {.type = "token.issued", .actor = "server"};
        if (mdt_audit_record(r->a, &ev, &err) != MDT_OK) {
            print_message("record: %s\n", mdt_err_text(&err));
            r->failures++;
        }
    }
    return NULL;
}

static void test_append_now_interleaved(void **state)
{
    fx *f = *state;
    mdt_store *s2 = NULL;
    mdt_err err = {0};
    rec_arg r = {0};
    pthread_t th;

    assert_int_equal(mdt_store_open(f->url, &s2, &err), MDT_OK);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 16, &r.a, &err), MDT_OK);
    assert_int_equal(pthread_create(&th, NULL, recorder, &r), 0);
    for (int i = 0; i < 40; i++) {
        mdt_audit_event ev = {.type = "client.updated", .actor = "cli"};
        if (mdt_audit_append_now(s2, &f->clock, &ev, &err) != MDT_OK)
            fail_msg("append_now: %s", mdt_err_text(&err));
    }
    pthread_join(th, NULL);
    mdt_audit_stop(r.a);
    assert_int_equal(r.failures, 0);
    expect_verify(f, MDT_OK, 100, 0);
    mdt_store_close(s2);
}

/* --- a writer held inside a done callback --- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, released;
    int ok, failed;
    mdt_rc last_fail;
} gate;

static void gate_init(gate *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

static void gate_destroy(gate *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static void gate_hold(void *ctx, mdt_rc rc)
{
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    g->ok += rc == MDT_OK;
    pthread_cond_broadcast(&g->cv);
    while (!g->released)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_count(void *ctx, mdt_rc rc)
{
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    if (rc == MDT_OK) {
        g->ok++;
    } else {
        g->failed++;
        g->last_fail = rc;
    }
    pthread_mutex_unlock(&g->mu);
}

static int gate_failed(gate *g)
{
    int n;
    pthread_mutex_lock(&g->mu);
    n = g->failed;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* Submits one event whose callback holds the writer until gate_release. */
static void gate_block(mdt_audit *a, gate *g)
{
    mdt_err err = {0};
    assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "gate"}, gate_hold, g, &err), MDT_OK);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_release(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->released = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void test_stop_drains(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    gate g;

    gate_init(&g);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 32, &a, &err), MDT_OK);
    gate_block(a, &g);
    for (int i = 0; i < 500; i++)
        assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "queued"}, gate_count, &g, &err), MDT_OK);
    gate_release(&g);
    mdt_audit_stop(a);
    assert_int_equal(g.ok, 501);
    assert_int_equal(g.failed, 0);
    expect_verify(f, MDT_OK, 501, 0);
    gate_destroy(&g);
}

/* The premises of a decision (mdt_audit_event.checks) are checked in the
 * group commit: an event made from a client that changed meanwhile is not
 * appended and its producer alone hears MDT_ERR_CONFLICT, through the
 * writer and without it; the others of its group are durable. */
static void test_premises(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    mdt_client_rec ca = {.client_id = "prem-a", .status = "active", .metadata = "{}"};
    mdt_client_rec cb = {.client_id = "prem-b", .status = "active", .metadata = "{}"}, row;
    mdt_client_check ka, kb;
    int64_t counter;
    gate g;

    assert_int_equal(mdt_store_client_insert(f->store, &ca, NULL, 0, &err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(f->store, &cb, NULL, 0, &err), MDT_OK);
    assert_int_equal(mdt_store_clients_version(f->store, &counter, &err), MDT_OK);
    {
        mdt_arena ar;
        mdt_arena_init(&ar, 1024);
        assert_int_equal(mdt_store_client_get(f->store, "prem-a", &ar, &row, &err), MDT_OK);
        ka = (mdt_client_check){.client_id = "prem-a", .version = row.version, .clients = counter};
        assert_int_equal(mdt_store_client_get(f->store, "prem-b", &ar, &row, &err), MDT_OK);
        kb = (mdt_client_check){.client_id = "prem-b", .version = row.version, .clients = counter};
        mdt_arena_free(&ar);
    }
    cb.status = "suspended"; /* after the decision, before its commit */
    assert_int_equal(mdt_store_client_update(f->store, &cb, &err), MDT_OK);

    gate_init(&g);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 32, &a, &err), MDT_OK);
    gate_block(a, &g);
    assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "token.issued", .checks = &ka,
                                                            .nchecks = 1},
                                      gate_count, &g, &err),
                     MDT_OK);
    assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "token.issued", .checks = &kb,
                                                            .nchecks = 1},
                                      gate_count, &g, &err),
                     MDT_OK);
    assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "client.updated"}, gate_count,
                                      &g, &err),
                     MDT_OK);
    gate_release(&g);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "token.issued", .checks = &kb,
                                                            .nchecks = 1},
                                      &err),
                     MDT_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "changed"));
    mdt_audit_stop(a);
    assert_int_equal(g.ok, 3); /* the gate, a's token, the update */
    assert_int_equal(g.failed, 1);
    assert_int_equal(g.last_fail, MDT_ERR_CONFLICT);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock,
                                          &(mdt_audit_event){.type = "token.issued", .checks = &kb,
                                                             .nchecks = 1},
                                          &err),
                     MDT_ERR_CONFLICT);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock,
                                          &(mdt_audit_event){.type = "token.issued", .checks = &ka,
                                                             .nchecks = 1},
                                          &err),
                     MDT_OK);
    expect_verify(f, MDT_OK, 4, 0);
    gate_destroy(&g);
}

/* A jti two events of one group consume: the first is appended, the second
 * is replaced by its replay event and its producer hears
 * MDT_ERR_INVALID_CLIENT; the writer and the direct append alike. */
static void test_uses(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    mdt_jti_use_rec u = {.issuer = "iss", .jti = "once", .expires_at = 1800000000};
    mdt_audit_event refusal = {.type = "client.auth_failed", .actor = "c", .client_id = "c",
                               .decision = "deny", .reason = "invalid_client: replayed jti"};
    mdt_audit_event issued = {.type = "token.issued", .actor = "c", .client_id = "c",
                              .decision = "allow", .uses = &u, .nuses = 1,
                              .on_replay = &refusal};
    gate g;

    gate_init(&g);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 32, &a, &err), MDT_OK);
    gate_block(a, &g);
    assert_int_equal(mdt_audit_submit(a, &issued, gate_count, &g, &err), MDT_OK);
    assert_int_equal(mdt_audit_submit(a, &issued, gate_count, &g, &err), MDT_OK);
    gate_release(&g);
    assert_int_equal(mdt_audit_record(a, &issued, &err), MDT_ERR_INVALID_CLIENT);
    assert_string_equal(err.msg, "client authentication failed");
    mdt_audit_stop(a);
    assert_int_equal(g.ok, 2); /* the gate, the first token */
    assert_int_equal(g.failed, 1);
    assert_int_equal(g.last_fail, MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &issued, &err),
                     MDT_ERR_INVALID_CLIENT);
    /* the gate, one token, three refusals in the place of the replays */
    expect_verify(f, MDT_OK, 5, 0);
    gate_destroy(&g);
}

/* A DPoP proof's jti, whose producer names its own answer to a replay
 * (replay_err): its replay answers invalid_dpop_proof, in
 * the group commit and without the writer alike, and its refusal is
 * appended in the event's place. */
static void test_uses_dpop(void **state)
{
    static const mdt_err dpop_replayed = {.rc = MDT_ERR_INVALID_DPOP_PROOF,
                                          .msg = "the DPoP proof was used before (its jti is spent)"};
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    mdt_jti_use_rec u = {.issuer = "dpop:jkt", .jti = "proof-1", .expires_at = 1800000000};
    mdt_audit_event refusal = {.type = "token.refused", .actor = "c", .client_id = "c",
                               .decision = "deny", .reason = "invalid_dpop_proof: used before"};
    mdt_audit_event issued = {.type = "token.issued", .actor = "c", .client_id = "c",
                              .decision = "allow", .uses = &u, .nuses = 1,
                              .on_replay = &refusal, .replay_err = &dpop_replayed};

    assert_int_equal(mdt_audit_start(f->store, &f->clock, 32, &a, &err), MDT_OK);
    assert_int_equal(mdt_audit_record(a, &issued, &err), MDT_OK);
    assert_int_equal(mdt_audit_record(a, &issued, &err), MDT_ERR_INVALID_DPOP_PROOF);
    assert_string_equal(err.msg, "the DPoP proof was used before (its jti is spent)");
    mdt_audit_stop(a);
    err = (mdt_err){0};
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &issued, &err),
                     MDT_ERR_INVALID_DPOP_PROOF);
    assert_string_equal(err.msg, "the DPoP proof was used before (its jti is spent)");
    expect_verify(f, MDT_OK, 3, 0); /* the token, two refusals */
}

static void test_queue_full(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    gate g;

    gate_init(&g);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, MDT_AUDIT_BATCH_MAX, &a, &err), MDT_OK);
    gate_block(a, &g);
    for (int i = 0; i < MDT_AUDIT_QUEUE_MAX; i++)
        if (mdt_audit_submit(a, &(mdt_audit_event){.type = "q"}, gate_count, &g, &err) != MDT_OK)
            fail_msg("submit %d refused", i);
    assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "q"}, gate_count, &g, &err),
                     MDT_ERR_UNAVAILABLE);
    assert_int_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "q"}, &err), MDT_ERR_UNAVAILABLE);
    gate_release(&g);
    mdt_audit_stop(a);
    assert_int_equal(g.ok, MDT_AUDIT_QUEUE_MAX + 1);
    assert_int_equal(g.failed, 0);
    expect_verify(f, MDT_OK, MDT_AUDIT_QUEUE_MAX + 1, 0);
    gate_destroy(&g);
}

static void test_store_failure(void **state)
{
    fx *f = *state;
    mdt_audit *a = NULL;
    mdt_err err = {0};
    uint64_t commits = 0, events = 0;
    gate g;

    gate_init(&g);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 16, &a, &err), MDT_OK);
    record_n(f, a, 2);
    gate_block(a, &g);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "lost"}, gate_count, &g, &err), MDT_OK);
    tamper(f, "ALTER TABLE audit_events RENAME TO audit_moved");
    gate_release(&g); /* the queued batch of 3 now fails as a whole */
    assert_int_not_equal(mdt_audit_record(a, &(mdt_audit_event){.type = "lost"}, &err), MDT_OK);
    assert_true(mdt_rc_is_server_fault(err.rc));
    /* callbacks of a batch run after its synchronous waiters are woken */
    for (int i = 0; i < 1000 && gate_failed(&g) < 3; i++)
        usleep(2000);
    assert_int_equal(gate_failed(&g), 3);
    assert_int_equal(g.ok, 1);
    assert_true(mdt_rc_is_server_fault(g.last_fail));
    tamper(f, "ALTER TABLE audit_moved RENAME TO audit_events");
    record_n(f, a, 2); /* the writer carries on */
    mdt_audit_stats(a, &commits, &events);
    assert_int_equal(events, 5); /* 2 + the gate + 2 */
    mdt_audit_stop(a);
    expect_verify(f, MDT_OK, 5, 0);
    gate_destroy(&g);
}

/* --- tail --- */

typedef struct {
    mdt_store *store;
    FILE *out;
    volatile int stop;
    mdt_rc rc;
} tail_arg;

static void *tailer(void *arg)
{
    tail_arg *t = arg;
    mdt_err err = {0};
    t->rc = mdt_audit_tail(t->store, 2, &t->stop, t->out, &err);
    mdt_store_thread_done(t->store);
    fclose(t->out);
    return NULL;
}

static int64_t read_seq(FILE *in)
{
    char line[2048];
    json_t *o;
    int64_t seq;

    assert_non_null(fgets(line, sizeof(line), in));
    assert_non_null(o = json_loads(line, 0, NULL));
    seq = json_integer_value(json_object_get(o, "seq"));
    json_decref(o);
    return seq;
}

static void test_tail(void **state)
{
    fx *f = *state;
    int fds[2];
    FILE *in;
    pthread_t th;
    mdt_err err = {0};
    tail_arg t = {.store = f->store};
    char rest[16];

    five_events(f);
    assert_int_equal(pipe(fds), 0);
    assert_non_null(in = fdopen(fds[0], "r"));
    assert_non_null(t.out = fdopen(fds[1], "w"));
    assert_int_equal(pthread_create(&th, NULL, tailer, &t), 0);
    assert_int_equal(read_seq(in), 4); /* the last 2 */
    assert_int_equal(read_seq(in), 5);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &(mdt_audit_event){.type = "later"}, &err), MDT_OK);
    assert_int_equal(read_seq(in), 6); /* followed */
    t.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(t.rc, MDT_OK);
    assert_null(fgets(rest, sizeof(rest), in)); /* nothing more, and closed */
    fclose(in);
}

static void test_hash_changes_with_each_input(void **state)
{
    mdt_audit_rec r = {.seq = 1, .time = 5, .type = "t", .body = "{}"};
    uint8_t h0[32], h[32];
    mdt_err err = {0};
    (void)state;

    assert_int_equal(mdt_audit_hash(&r, h0, &err), MDT_OK);
    r.seq = 2;
    assert_int_equal(mdt_audit_hash(&r, h, &err), MDT_OK);
    assert_memory_not_equal(h, h0, 32);
    r.seq = 1, r.time = 6;
    assert_int_equal(mdt_audit_hash(&r, h, &err), MDT_OK);
    assert_memory_not_equal(h, h0, 32);
    r.time = 5, r.prev_hash[31] = 1;
    assert_int_equal(mdt_audit_hash(&r, h, &err), MDT_OK);
    assert_memory_not_equal(h, h0, 32);
    r.prev_hash[31] = 0;
    /* the 0x00 separator: moving a byte from type to body changes the hash */
    r.type = "t{", r.body = "}";
    assert_int_equal(mdt_audit_hash(&r, h, &err), MDT_OK);
    assert_memory_not_equal(h, h0, 32);
    r.type = "t", r.body = "{}";
    assert_int_equal(mdt_audit_hash(&r, h, &err), MDT_OK);
    assert_memory_equal(h, h0, 32);
}

/* --- keyed chain and checkpoints ------------------------------------------ */

static const uint8_t chain_key[MDT_HASH_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void expect_full(fx *f, const mdt_jwk *signer, mdt_rc want, int64_t want_bad,
                        mdt_audit_verify_result *r)
{
    mdt_audit_verify_opts o = {.signer = signer};
    mdt_err err = {0};

    assert_int_equal(mdt_audit_verify_full(f->store, &o, r, &err), want);
    assert_int_equal(r->bad_seq, want_bad);
}

static void test_keyed_chain(void **state)
{
    fx *f = *state;
    mdt_audit_verify_result r;
    mdt_err err = {0};
    uint8_t h[MDT_HASH_LEN], want[MDT_HASH_LEN];
    mdt_audit_rec rec = {.seq = 1, .time = 5, .type = "t", .body = "{}"};

    five_events(f); /* an unkeyed chain of 5, as written before keying */
    mdt_store_set_audit_key(f->store, chain_key);
    assert_int_equal(mdt_audit_anchor_ensure(f->store, &f->clock, "cli", "kid", &err), MDT_OK);
    assert_int_equal(mdt_audit_anchor_ensure(f->store, &f->clock, "cli", "kid", &err), MDT_OK);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &(mdt_audit_event){.type = "after"}, &err),
                     MDT_OK);
    expect_full(f, NULL, MDT_OK, 0, &r);
    assert_int_equal(r.anchor_seq, 6);
    assert_int_equal(r.count, 7);
    /* The keyed hash is the HMAC of the documented bytes, not their SHA-256. */
    assert_int_equal(mdt_audit_mac(chain_key, &rec, h, &err), MDT_OK);
    assert_int_equal(mdt_audit_hash(&rec, want, &err), MDT_OK);
    assert_memory_not_equal(h, want, MDT_HASH_LEN);
    /* event 7 rewritten with the SHA-256 formula: named */
    tamper(f, "UPDATE audit_events SET body='{\"x\":1}' WHERE seq=7");
    expect_full(f, NULL, MDT_ERR_VERIFY, 7, &r);
    /* without the key, a keyed log neither verifies nor takes appends */
    mdt_store_set_audit_key(f->store, NULL);
    expect_full(f, NULL, MDT_ERR_CONFIG, 0, &r);
    assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &(mdt_audit_event){.type = "x"}, &err),
                     MDT_ERR_CONFIG);
}

static void test_anchor_required(void **state)
{
    fx *f = *state;
    mdt_audit_verify_result r;
    mdt_err err = {0};

    mdt_store_set_audit_key(f->store, chain_key);
    assert_int_equal(mdt_audit_anchor_ensure(f->store, &f->clock, "cli", "kid", &err), MDT_OK);
    expect_full(f, NULL, MDT_OK, 0, &r);
    assert_int_equal(r.anchor_seq, 1);
    tamper(f, "DELETE FROM audit_events");
    expect_full(f, NULL, MDT_ERR_VERIFY, 1, &r); /* keyed but empty: the anchor is gone */
}

/* Many events per transaction: each after the first reuses the keyed context. */
static void test_keyed_batches(void **state)
{
    fx *f = *state;
    mdt_audit_verify_result r;
    mdt_audit *a = NULL;
    mdt_err err = {0};

    mdt_store_set_audit_key(f->store, chain_key);
    assert_int_equal(mdt_audit_anchor_ensure(f->store, &f->clock, "cli", "kid", &err), MDT_OK);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 64, &a, &err), MDT_OK);
    for (int i = 0; i < 500; i++)
        assert_int_equal(mdt_audit_submit(a, &(mdt_audit_event){.type = "batched"}, NULL, NULL, &err),
                         MDT_OK);
    mdt_audit_stop(a);
    expect_full(f, NULL, MDT_OK, 0, &r);
    assert_int_equal(r.count, 501);
}

static void test_checkpoint_add_is_conditional(void **state)
{
    fx *f = *state;
    mdt_err err = {0};
    mdt_audit_checkpoint_rec c = {.n = 1, .seq = 10, .time = 1, .jws = "a"};

    assert_int_equal(mdt_store_audit_checkpoint_add(f->store, &c, &err), MDT_OK);
    assert_int_equal(mdt_store_audit_checkpoint_add(f->store, &c, &err), MDT_ERR_CONFLICT);
    c.n = 3, c.seq = 20;
    assert_int_equal(mdt_store_audit_checkpoint_add(f->store, &c, &err), MDT_ERR_CONFLICT);
    c.n = 2, c.seq = 10;
    assert_int_equal(mdt_store_audit_checkpoint_add(f->store, &c, &err), MDT_ERR_CONFLICT);
    c.seq = 11;
    assert_int_equal(mdt_store_audit_checkpoint_add(f->store, &c, &err), MDT_OK);
}

static void test_writer_checkpoints(void **state)
{
    fx *f = *state;
    mdt_audit_verify_result r;
    mdt_audit *a = NULL;
    mdt_jwk *signer = NULL, *other = NULL;
    mdt_err err = {0};
    bool written = true;

    assert_int_equal(mdt_jwk_generate(MDT_ALG_EDDSA, &signer, &err), MDT_OK);
    assert_int_equal(mdt_jwk_generate(MDT_ALG_EDDSA, &other, &err), MDT_OK);
    mdt_store_set_audit_key(f->store, chain_key);
    assert_int_equal(mdt_audit_anchor_ensure(f->store, &f->clock, "cli", "kid", &err), MDT_OK);
    assert_int_equal(mdt_audit_start(f->store, &f->clock, 8, &a, &err), MDT_OK);
    mdt_audit_set_checkpoints(a, signer, 3, 3600);
    record_n(f, a, 7); /* checkpoints after 3 and 6 events, and one at stop */
    mdt_audit_stop(a);
    expect_full(f, signer, MDT_OK, 0, &r);
    assert_int_equal(r.checkpoints, 3);
    assert_int_equal(r.checkpoint_seq, 8);
    /* nothing new: a second writer has nothing to write */
    assert_int_equal(mdt_audit_checkpoint_write(f->store, signer, 1, &written, &err), MDT_OK);
    assert_false(written);
    /* checked with another key, the checkpoints do not verify */
    expect_full(f, other, MDT_ERR_VERIFY, 4, &r);
    /* the newest events deleted: named by the checkpoint that covered them */
    tamper(f, "DELETE FROM audit_events WHERE seq >= 6");
    expect_full(f, signer, MDT_ERR_VERIFY, 6, &r);
    mdt_jwk_free(signer);
    mdt_jwk_free(other);
}

/* mdt_audit_recent: newest first, filters by client (the store's index),
 * type prefix and since, a seq cursor that pages without repeats, and the
 * bound on the events a page reads. */
static void test_recent(void **state)
{
    fx *f = *state;
    mdt_err err = {0};
    mdt_arena a;
    mdt_audit_rec *evs;
    size_t n;
    int64_t next, seen = 0, want = 0;

    mdt_arena_init(&a, 0);
    for (int i = 1; i <= 300; i++) {
        f->tc.t = 1700000000 + i;
        mdt_audit_event ev = {.type = i % 2 ? "token.issued" : "client.changed",
                              .client_id = i % 3 ? "b" : "a"};
        assert_int_equal(mdt_audit_append_now(f->store, &f->clock, &ev, &err), MDT_OK);
    }
    /* the newest ten, then the ten before */
    assert_int_equal(mdt_audit_recent(f->store, &(mdt_audit_recent_filter){0}, 10, 1000, &a, &evs,
                                      &n, &next, &err),
                     MDT_OK);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(evs[i].seq, 300 - (int64_t)i);
    assert_int_equal(next, 291);
    assert_int_equal(mdt_audit_recent(f->store, &(mdt_audit_recent_filter){.before_seq = next}, 10,
                                      1000, &a, &evs, &n, &next, &err),
                     MDT_OK);
    assert_int_equal(n, 10);
    assert_int_equal(evs[0].seq, 290);
    assert_int_equal(evs[9].seq, 281);
    assert_non_null(strstr(evs[0].body, "\"client.changed\""));
    /* since: the events at or after seq 295's time, and nothing older to page to */
    assert_int_equal(mdt_audit_recent(f->store, &(mdt_audit_recent_filter){.since = 1700000295},
                                      50, 1000, &a, &evs, &n, &next, &err),
                     MDT_OK);
    assert_int_equal(n, 6);
    assert_int_equal(evs[5].seq, 295);
    assert_int_equal(next, 0);
    /* client a's token events, paged by 7: each once, newest first, then the end */
    for (int i = 1; i <= 300; i++)
        want += (i % 3 == 0 && i % 2 == 1);
    mdt_audit_recent_filter fa = {.client_id = "a", .type_prefix = "token."};
    int64_t last = INT64_MAX;
    for (int page = 0; page < 100; page++) {
        assert_int_equal(mdt_audit_recent(f->store, &fa, 7, 1000, &a, &evs, &n, &next, &err),
                         MDT_OK);
        for (size_t i = 0; i < n; i++) {
            assert_true(evs[i].seq < last);
            last = evs[i].seq;
            assert_true(evs[i].seq % 3 == 0 && evs[i].seq % 2 == 1);
            assert_string_equal(evs[i].type, "token.issued");
            assert_string_equal(evs[i].client_id, "a");
            seen++;
        }
        if (!next)
            break;
        fa.before_seq = next;
    }
    assert_int_equal(seen, want);
    assert_int_equal(next, 0);
    /* bounded: a filter nothing matches reads 100 events and says where to go on */
    assert_int_equal(mdt_audit_recent(f->store, &(mdt_audit_recent_filter){.type_prefix = "nope"},
                                      10, 100, &a, &evs, &n, &next, &err),
                     MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(next, 201);
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_canonical),
        cmocka_unit_test(test_hash_changes_with_each_input),
        cmocka_unit_test_setup_teardown(test_record_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_fields_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_delete_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_time_and_forged_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_now_interleaved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_premises, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uses_dpop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyed_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchor_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyed_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_add_is_conditional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_checkpoints, setup, teardown),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
