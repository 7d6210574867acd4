/* Approval routing rules (iga/routing.h) and the signature and backoff of
 * webhook notifications (iga/webhooks.h): pure logic. */
#include "unit.h"

#include <stdio.h>

#include "iga/routing.h"
#include "iga/webhooks.h"

static char g_dir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static mdt_routing *load(const char *json)
{
    mdt_routing *rt = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_routing_load(write_file("routing.json", json), &rt, &err), MDT_OK);
    assert_non_null(rt);
    return rt;
}

static const char *load_error(const char *json)
{
    static mdt_err err;
    mdt_routing *rt = NULL;

    memset(&err, 0, sizeof(err));
    assert_int_equal(mdt_routing_load(write_file("routing.json", json), &rt, &err), MDT_ERR_CONFIG);
    assert_null(rt);
    return mdt_err_text(&err);
}

static mdt_route_facts facts(const char *type, const char *const *scopes,
                             const char *const *sens, size_t n, const char *tier)
{
    return (mdt_route_facts){.type = type, .scopes = scopes, .sensitivities = sens, .nscopes = n,
                             .risk_tier = tier};
}

/* First match wins; every condition of a rule must hold; any scope of the
 * request matches a scope or sensitivity condition. */
static void test_match(void **state)
{
    (void)state;
    mdt_routing *rt = load(
        "[{\"type\": \"ciba\", \"scope\": [\"payments\", \"transfers\"], \"approve\": \"quorum\","
        "  \"n\": 2, \"expires_in\": \"15m\"},"
        " {\"sensitivity\": \"approval\", \"risk_tier\": [\"high\"], \"approve\": \"approver\"},"
        " {\"type\": [\"ciba\", \"device\"], \"approve\": \"user\", \"expires_in\": 300},"
        " {\"risk_tier\": \"low\", \"approve\": \"owner\"}]");
    const char *pay[] = {"read", "payments"}, *pay_s[] = {"none", "approval"};
    const char *rd[] = {"read"}, *rd_s[] = {"none"};
    mdt_route_facts f = facts("ciba", pay, pay_s, 2, "medium");
    mdt_route r = mdt_routing_match(rt, &f);

    assert_int_equal(r.who, MDT_ROUTE_QUORUM);
    assert_int_equal(r.quorum, 2);
    assert_int_equal(r.expires_in, 900);
    assert_int_equal(r.rule, 0);
    f = facts("registration", pay, pay_s, 2, "high"); /* not ciba: rule 2 by sensitivity and tier */
    r = mdt_routing_match(rt, &f);
    assert_int_equal(r.who, MDT_ROUTE_APPROVER);
    assert_int_equal(r.expires_in, 0);
    f = facts("registration", pay, pay_s, 2, "medium"); /* tier fails rule 2 */
    assert_int_equal(mdt_routing_match(rt, &f).who, MDT_ROUTE_DEFAULT);
    assert_int_equal(mdt_routing_match(rt, &f).rule, -1);
    f = facts("device", rd, rd_s, 1, "high");
    r = mdt_routing_match(rt, &f);
    assert_int_equal(r.who, MDT_ROUTE_USER);
    assert_int_equal(r.expires_in, 300);
    f = facts("access_request", rd, rd_s, 1, "low");
    assert_int_equal(mdt_routing_match(rt, &f).who, MDT_ROUTE_OWNER);
    f = facts("access_request", rd, rd_s, 1, NULL); /* unknown tier matches no tier condition */
    assert_int_equal(mdt_routing_match(rt, &f).who, MDT_ROUTE_DEFAULT);
    f = facts("ciba", NULL, NULL, 0, NULL); /* no scopes: no scope condition holds */
    assert_int_equal(mdt_routing_match(rt, &f).who, MDT_ROUTE_USER);
    assert_int_equal(mdt_routing_match(NULL, &f).who, MDT_ROUTE_DEFAULT);
    assert_string_equal(mdt_route_who_name(MDT_ROUTE_QUORUM), "quorum");
    mdt_routing_free(rt);
}

static void test_load_errors(void **state)
{
    (void)state;
    mdt_routing *rt = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_routing_load("", &rt, &err), MDT_OK);
    assert_null(rt);
    assert_int_equal(mdt_routing_load("/nonexistent/routing.json", &rt, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(mdt_err_text(&err), "/nonexistent/routing.json"));
    assert_non_null(strstr(load_error("{}"), "routing.json: must be a JSON array"));
    assert_non_null(strstr(load_error("[{\"approve\": \"boss\"}]"),
                           "rule 1: approve must be user, owner, approver or quorum"));
    assert_non_null(strstr(load_error("[{\"approve\": \"user\"}, {\"approve\": \"quorum\"}]"),
                           "rule 2: a quorum needs n"));
    assert_non_null(strstr(load_error("[{\"approve\": \"quorum\", \"n\": 21}]"), "rule 1: a quorum needs n"));
    assert_non_null(strstr(load_error("[{\"approve\": \"approver\", \"n\": 2}]"),
                           "rule 1: n is only for approve: quorum"));
    assert_non_null(strstr(load_error("[{\"approve\": \"user\", \"scopes\": \"x\"}]"),
                           "rule 1: unknown member"));
    assert_non_null(strstr(load_error("[{\"approve\": \"user\", \"scope\": []}]"),
                           "rule 1: a condition is a word"));
    assert_non_null(strstr(load_error("[{\"approve\": \"user\", \"scope\": [\"a b\"]}]"),
                           "rule 1: a condition is a word"));
    assert_non_null(strstr(load_error("[{\"approve\": \"user\", \"expires_in\": 0}]"),
                           "rule 1: expires_in must be"));
    assert_non_null(strstr(load_error("[{\"approve\": \"user\", \"expires_in\": \"soon\"}]"),
                           "rule 1: expires_in must be"));
    assert_non_null(strstr(load_error("[\"user\"]"), "rule 1: a rule must be an object"));
}

/* HMAC-SHA256 over "t.body", lowercase hex: a vector computed elsewhere
 * (Python's hmac module). */
static void test_signature(void **state)
{
    (void)state;
    static const char secret[] = "0123456789abcdef-secret";
    char hex[MDT_WEBHOOK_SIG_HEX + 1];
    mdt_err err = {0};

    assert_int_equal(mdt_webhook_sign((const uint8_t *)secret, strlen(secret), 1700000000,
                                      "{\"id\":\"evt_1\"}", hex, &err),
                     MDT_OK);
    assert_string_equal(hex, "582eb7b77598feba531542374f259d0ba77f0be9485d87dea6125a8301434e5a");
    /* another time, another signature: the timestamp is signed */
    assert_int_equal(mdt_webhook_sign((const uint8_t *)secret, strlen(secret), 1700000001,
                                      "{\"id\":\"evt_1\"}", hex, &err),
                     MDT_OK);
    assert_string_not_equal(hex, "582eb7b77598feba531542374f259d0ba77f0be9485d87dea6125a8301434e5a");
}

/* 10 s doubling, capped at an hour: about a day takes some 30 attempts. */
static void test_backoff(void **state)
{
    (void)state;
    int64_t total = 0, n = 0;

    assert_int_equal(mdt_webhook_backoff(10, 3600, 1), 10);
    assert_int_equal(mdt_webhook_backoff(10, 3600, 2), 20);
    assert_int_equal(mdt_webhook_backoff(10, 3600, 3), 40);
    assert_int_equal(mdt_webhook_backoff(10, 3600, 9), 2560);
    assert_int_equal(mdt_webhook_backoff(10, 3600, 10), 3600);
    assert_int_equal(mdt_webhook_backoff(10, 3600, 1000000), 3600);
    assert_int_equal(mdt_webhook_backoff(0, 3600, 1), 1);
    while (total < 86400 && n < 1000)
        total += mdt_webhook_backoff(10, 3600, ++n);
    assert_true(n > 20 && n < 40);
}

static void test_webhooks_load(void **state)
{
    (void)state;
    mdt_webhooks *w = NULL;
    mdt_err err = {0};
    const char *path;

    write_file("short.secret", "too short\n");
    write_file("hook.secret", "a-secret-of-enough-bytes\n");
    path = write_file("hooks.json", "[{\"url\": \"http://127.0.0.1:9/h\", \"secret_file\": \"hook.secret\"}]");
    assert_int_equal(mdt_webhooks_load(path, &w, &err), MDT_OK);
    assert_non_null(w);
    mdt_webhooks_free(w);
    w = NULL;
    path = write_file("hooks.json", "[{\"url\": \"http://127.0.0.1:9/h\", \"secret_file\": \"short.secret\"}]");
    assert_int_equal(mdt_webhooks_load(path, &w, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(mdt_err_text(&err), "entry 1: the secret must be 16 to 4096 bytes"));
    assert_null(strstr(mdt_err_text(&err), "too short"));
    path = write_file("hooks.json", "[{\"url\": \"ftp://x/h\", \"secret_file\": \"hook.secret\"}]");
    assert_int_equal(mdt_webhooks_load(path, &w, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(mdt_err_text(&err), "entry 1: url must be an http or https URL"));
    path = write_file("hooks.json", "[{\"url\": \"http://a/h\", \"secret_file\": \"missing\"}]");
    assert_int_equal(mdt_webhooks_load(path, &w, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(mdt_err_text(&err), "secret_file cannot be read"));
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_webhooks_load),
    };
    int rc;

    snprintf(g_dir, sizeof(g_dir), "/tmp/mandate-routing-XXXXXX");
    if (!mkdtemp(g_dir))
        return 1;
    rc = cmocka_run_group_tests_name("routing", tests, NULL, NULL);
    test_rmdir(g_dir);
    return rc;
}
