/* Risk signals (policy/risk.h): the window logic with an injected clock,
 * and the recording in the store's rate counters. */
#include "unit.h"

#include "policy/risk.h"
#include "test_ctx.h"

#define T0 1780000000 /* a multiple of 3600 plus 4,000 s: see test_window */

static void test_window(void **state)
{
    (void)state;
    assert_int_equal(mdt_risk_window(120, 60), 120);
    assert_int_equal(mdt_risk_window(179, 60), 120);
    assert_int_equal(mdt_risk_window(-1, 60), -60);
    assert_int_equal(mdt_risk_hour(0), 0);
    assert_int_equal(mdt_risk_hour(86400 + 13 * 3600 + 59), 13);
    assert_int_equal(mdt_risk_hour(86400 - 1), 23);
}

static void test_sliding(void **state)
{
    (void)state;
    /* at the start of a window the previous one counts whole */
    assert_int_equal(mdt_risk_sliding(0, 10, 600, 60), 10);
    /* half way: half of it, rounded up */
    assert_int_equal(mdt_risk_sliding(2, 10, 630, 60), 7);
    assert_int_equal(mdt_risk_sliding(2, 9, 630, 60), 7);
    /* at its last second: 1/60 of it, rounded up */
    assert_int_equal(mdt_risk_sliding(3, 10, 659, 60), 4);
    assert_int_equal(mdt_risk_sliding(3, 0, 659, 60), 3);
}

static void read_at(test_env *f, int64_t t, const char *client, const char *ip, const char *cred,
                    mdt_risk *r)
{
    f->clk.t = t;
    assert_int_equal(mdt_risk_read(&f->env, client, ip, cred, t, 43200, r, &f->err), MDT_OK);
}

static void record_at(test_env *f, int64_t t, const char *client, const char *ip, const char *cred)
{
    assert_int_equal(mdt_risk_record_request(&f->env, client, ip, cred, t, 43200, &f->err), MDT_OK);
}

/* A burst flips a threshold; the minute slides away, the hour stays. */
static void test_burst_and_slide(void **state)
{
    test_env f = {0};
    mdt_risk r;
    int64_t t = mdt_risk_window(T0, 60) + 5;

    (void)state;
    test_env_open(&f, "risk", t, "test");
    read_at(&f, t, "agent", "192.0.2.1", "cred_1", &r);
    assert_int_equal(r.requests_last_minute, 1); /* this one */
    assert_true(r.new_ip);
    assert_true(r.new_credential);
    for (int i = 0; i < 10; i++)
        record_at(&f, t + i, "agent", "192.0.2.1", "cred_1");
    read_at(&f, t + 10, "agent", "192.0.2.1", "cred_1", &r);
    assert_true(r.requests_last_minute > 10); /* a "more than 10" rule flips here */
    assert_int_equal(r.requests_last_minute, 11);
    assert_int_equal(r.requests_last_hour, 11);
    assert_false(r.new_ip);
    assert_false(r.new_credential);
    /* another client's history is its own */
    read_at(&f, t + 10, "other", "192.0.2.1", "cred_1", &r);
    assert_int_equal(r.requests_last_minute, 1);
    assert_true(r.new_ip);
    assert_true(r.new_credential);
    /* a new address or credential of the same client is new */
    read_at(&f, t + 10, "agent", "192.0.2.2", "cred_2", &r);
    assert_true(r.new_ip);
    assert_true(r.new_credential);
    /* 30 s into the next minute window: half of the burst still counts */
    read_at(&f, mdt_risk_window(t, 60) + 90, "agent", NULL, NULL, &r);
    assert_int_equal(r.requests_last_minute, 1 + 5);
    /* two minutes later the minute is empty; the hour keeps the burst */
    read_at(&f, t + 180, "agent", NULL, NULL, &r);
    assert_int_equal(r.requests_last_minute, 1);
    assert_int_equal(r.requests_last_hour, 11);
    /* two hours later, the hour is empty too */
    read_at(&f, t + 2 * 3600, "agent", "192.0.2.1", "cred_1", &r);
    assert_int_equal(r.requests_last_hour, 1);
    assert_false(r.new_ip); /* remembered for 12 to 24 hours */
    read_at(&f, t + 25 * 3600, "agent", "192.0.2.1", "cred_1", &r);
    assert_true(r.new_ip);
    assert_true(r.new_credential);
    test_env_close(&f);
}

static int64_t dummy_pdp;

static void test_auth_failures(void **state)
{
    test_env f = {0};
    mdt_risk r;
    int64_t t = T0;
    char longid[400];

    (void)state;
    test_env_open(&f, "risk", t, "test");
    mdt_risk_note_auth_failure(&f.env, "agent", t); /* PDP off: nothing recorded */
    read_at(&f, t, "agent", NULL, NULL, &r);
    assert_int_equal(r.auth_failures_last_hour, 0);
    f.env.pdp = (mdt_pdp *)&dummy_pdp; /* on (never called here) */
    for (int i = 0; i < 3; i++)
        mdt_risk_note_auth_failure(&f.env, "agent", t + i);
    mdt_risk_note_auth_failure(&f.env, NULL, t);
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    mdt_risk_note_auth_failure(&f.env, longid, t); /* not counted: no unbounded names */
    read_at(&f, t + 5, "agent", NULL, NULL, &r);
    assert_int_equal(r.auth_failures_last_hour, 3);
    read_at(&f, t + 3 * 3600, "agent", NULL, NULL, &r);
    assert_int_equal(r.auth_failures_last_hour, 0);
    f.env.pdp = NULL;
    test_env_close(&f);
}

/* What is recorded is pruned with the rate counters, a day on. */
static void test_pruned(void **state)
{
    test_env f = {0};
    mdt_risk r;
    int64_t t = T0, n = -1;

    (void)state;
    test_env_open(&f, "risk", t, "test");
    record_at(&f, t, "agent", "192.0.2.1", "cred_1");
    assert_int_equal(mdt_store_rate_peek(f.env.store, "risk.req1h:agent",
                                         mdt_risk_window(t, 3600), &n, &f.err), MDT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(mdt_store_purge_expired(f.env.store, t + 2 * 86400 + 43200, &f.err), MDT_OK);
    assert_int_equal(mdt_store_rate_peek(f.env.store, "risk.req1h:agent",
                                         mdt_risk_window(t, 3600), &n, &f.err), MDT_OK);
    assert_int_equal(n, 0);
    read_at(&f, t + 600, "agent", "192.0.2.1", "cred_1", &r);
    assert_true(r.new_ip); /* its memory went with the counters */
    assert_int_equal(r.requests_last_hour, 1);
    test_env_close(&f);
}

static void test_json(void **state)
{
    mdt_risk r = {.requests_last_minute = 3, .requests_last_hour = 40, .hour = 7, .new_ip = true};
    mdt_buf b;

    (void)state;
    mdt_buf_init(&b, 1024);
    assert_int_equal(mdt_risk_json(&r, &b), MDT_OK);
    assert_string_equal(b.data, "{\"requests_last_minute\":3,\"requests_last_hour\":40,"
                                "\"auth_failures_last_hour\":0,\"hour\":7,\"new_ip\":true,"
                                "\"new_credential\":false}");
    mdt_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),       cmocka_unit_test(test_sliding),
        cmocka_unit_test(test_burst_and_slide), cmocka_unit_test(test_auth_failures),
        cmocka_unit_test(test_pruned),       cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests_name("risk", tests, NULL, NULL);
}
