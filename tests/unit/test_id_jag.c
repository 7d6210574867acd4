/* Identity Assertion JWT Authorization Grants: the claims an ID-JAG carries,
 * what a target allows (scope and resource), the checks of an ID-JAG when it
 * is presented, the [id_jag] targets file and the "id_jag" mark of a JWT
 * bearer issuer. */
#include "unit.h"

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "oauth/id_jag.h"
#include "oauth/trust.h"

#define API "https://api.example.com"
#define TARGET "https://as.example.com"

static const char *const scopes[] = {"read", "write"};
static const char *const resources[] = {API};
static const mdt_id_jag_client clients[] = {{"agent", "agent-there"}};
static const mdt_id_jag_target target = {
    .issuer = TARGET, .clients = clients, .nclients = 1, .scopes = scopes, .nscopes = 2,
    .resources = resources, .nresources = 1, .ttl = 300};

static void test_claims_json(void **state)
{
    mdt_id_jag_claims c = {.iss = "https://idp.example.com", .sub = "alice", .aud = TARGET,
                           .client_id = "agent-there", .jti = "j1", .scope = "read",
                           .resource = API, .iat = 1000, .exp = 1300, .auth_time = 900};
    mdt_buf b;
    json_t *o;

    (void)state;
    mdt_buf_init(&b, 4096);
    assert_int_equal(mdt_id_jag_claims_json(&c, &b), MDT_OK);
    assert_non_null(o = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL));
    assert_string_equal(json_string_value(json_object_get(o, "iss")), "https://idp.example.com");
    assert_string_equal(json_string_value(json_object_get(o, "sub")), "alice");
    assert_string_equal(json_string_value(json_object_get(o, "aud")), TARGET);
    assert_string_equal(json_string_value(json_object_get(o, "client_id")), "agent-there");
    assert_string_equal(json_string_value(json_object_get(o, "jti")), "j1");
    assert_string_equal(json_string_value(json_object_get(o, "scope")), "read");
    assert_string_equal(json_string_value(json_object_get(o, "resource")), API);
    assert_int_equal(json_integer_value(json_object_get(o, "iat")), 1000);
    assert_int_equal(json_integer_value(json_object_get(o, "exp")), 1300);
    assert_int_equal(json_integer_value(json_object_get(o, "auth_time")), 900);
    json_decref(o);
    /* optional members are left out; strings are escaped */
    c.scope = "";
    c.resource = NULL;
    c.auth_time = 0;
    c.sub = "a\"b";
    b.len = 0;
    assert_int_equal(mdt_id_jag_claims_json(&c, &b), MDT_OK);
    assert_non_null(o = json_loadb(b.data, b.len, 0, NULL));
    assert_null(json_object_get(o, "scope"));
    assert_null(json_object_get(o, "resource"));
    assert_null(json_object_get(o, "auth_time"));
    assert_string_equal(json_string_value(json_object_get(o, "sub")), "a\"b");
    json_decref(o);
    mdt_buf_free(&b);
}

static void test_narrow(void **state)
{
    mdt_arena a;
    const char *granted = NULL;
    mdt_err err = {0};
    mdt_id_jag_target none = target;

    (void)state;
    mdt_arena_init(&a, 1024);
    assert_int_equal(mdt_id_jag_narrow(&a, &target, NULL, NULL, &granted, &err), MDT_OK);
    assert_string_equal(granted, "read write");
    assert_int_equal(mdt_id_jag_narrow(&a, &target, "write read", API, &granted, &err),
                     MDT_OK);
    assert_string_equal(granted, "write read");
    assert_int_equal(mdt_id_jag_narrow(&a, &target, "read admin", NULL, &granted, &err),
                     MDT_ERR_INVALID_SCOPE);
    assert_non_null(strstr(err.detail, "admin"));
    assert_int_equal(mdt_id_jag_narrow(&a, &target, "read", "https://other.example.com",
                                       &granted, &err),
                     MDT_ERR_INVALID_TARGET);
    assert_int_equal(mdt_id_jag_narrow(&a, &target, "read", API "/x", &granted, &err),
                     MDT_ERR_INVALID_TARGET); /* exact values only */
    /* a target without scopes or resources allows none */
    none.nscopes = 0;
    none.nresources = 0;
    assert_int_equal(mdt_id_jag_narrow(&a, &none, NULL, NULL, &granted, &err), MDT_OK);
    assert_string_equal(granted, "");
    assert_int_equal(mdt_id_jag_narrow(&a, &none, "read", NULL, &granted, &err),
                     MDT_ERR_INVALID_SCOPE);
    assert_int_equal(mdt_id_jag_narrow(&a, &none, NULL, API, &granted, &err),
                     MDT_ERR_INVALID_TARGET);
    mdt_arena_free(&a);
}

static void test_typ(void **state)
{
    (void)state;
    assert_true(mdt_id_jag_typ("oauth-id-jag+jwt"));
    assert_true(mdt_id_jag_typ("OAuth-ID-JAG+JWT"));
    assert_false(mdt_id_jag_typ("JWT"));
    assert_false(mdt_id_jag_typ("application/oauth-id-jag+jwt"));
    assert_false(mdt_id_jag_typ(NULL));
}

static void expect_accept(const char *claims, mdt_rc want, const char *detail)
{
    json_t *o = json_loads(claims, 0, NULL);
    const char *scope = "x", *resource = "x";
    mdt_err err = {0};

    assert_non_null(o);
    assert_int_equal(mdt_id_jag_accept_claims(o, "agent-there", &scope, &resource, &err), want);
    if (detail && !strstr(mdt_err_text(&err), detail))
        fail_msg("%s: want '%s', got '%s'", claims, detail, mdt_err_text(&err));
    json_decref(o);
}

static void test_accept_claims(void **state)
{
    json_t *o = json_loads("{\"client_id\":\"agent-there\",\"scope\":\"read\",\"resource\":\"" API
                           "\"}",
                           0, NULL);
    const char *scope = NULL, *resource = NULL;
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_id_jag_accept_claims(o, "agent-there", &scope, &resource, &err), MDT_OK);
    assert_string_equal(scope, "read");
    assert_string_equal(resource, API);
    json_decref(o);
    expect_accept("{\"client_id\":\"agent-there\"}", MDT_OK, NULL);
    expect_accept("{}", MDT_ERR_VERIFY, "without a client_id");
    expect_accept("{\"client_id\":\"\"}", MDT_ERR_VERIFY, "without a client_id");
    expect_accept("{\"client_id\":7}", MDT_ERR_VERIFY, "without a client_id");
    expect_accept("{\"client_id\":\"someone-else\"}", MDT_ERR_VERIFY,
                  "is not the authenticated client");
    expect_accept("{\"client_id\":\"agent-there\",\"scope\":[\"read\"]}", MDT_ERR_VERIFY,
                  "must be strings");
    expect_accept("{\"client_id\":\"agent-there\",\"resource\":1}", MDT_ERR_VERIFY,
                  "must be strings");
}

static void test_auth_time(void **state)
{
    json_t *o = json_pack("{s:I}", "auth_time", (json_int_t)1000);

    (void)state;
    assert_int_equal(mdt_id_jag_auth_time(o, 2000), 1000);
    assert_int_equal(mdt_id_jag_auth_time(o, 1000 - MDT_ASSERTION_LEEWAY), 1000);
    assert_int_equal(mdt_id_jag_auth_time(o, 900), 0); /* in the future */
    json_object_set_new(o, "auth_time", json_string("1000"));
    assert_int_equal(mdt_id_jag_auth_time(o, 2000), 0);
    json_object_set_new(o, "auth_time", json_integer(-5));
    assert_int_equal(mdt_id_jag_auth_time(o, 2000), 0);
    json_object_del(o, "auth_time");
    assert_int_equal(mdt_id_jag_auth_time(o, 2000), 0);
    json_decref(o);
}

static mdt_rc add_targets(mdt_trust *t, const char *text, mdt_err *err)
{
    return mdt_trust_add_targets(t, text, strlen(text), "targets.json", err);
}

static void expect_target_error(const char *text, const char *detail)
{
    mdt_trust *t = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_trust_new(&t, &err), MDT_OK);
    assert_int_equal(add_targets(t, "[{\"issuer\":\"https://kept\",\"clients\":{\"a\":\"b\"}}]",
                                 &err),
                     MDT_OK);
    if (add_targets(t, text, &err) != MDT_ERR_CONFIG || !strstr(err.detail, detail) ||
        !strstr(err.detail, "targets.json"))
        fail_msg("file %s: want '%s', got '%s'", text, detail, err.detail);
    assert_non_null(mdt_trust_target_find(t, "https://kept")); /* unchanged */
    assert_null(mdt_trust_target_find(t, "https://t"));
    mdt_trust_free(t);
}

static void test_targets_file(void **state)
{
    mdt_trust *t = NULL;
    mdt_err err = {0};
    const mdt_id_jag_target *tg;

    (void)state;
    assert_int_equal(mdt_trust_new(&t, &err), MDT_OK);
    assert_int_equal(add_targets(t, "[{\"issuer\":\"" TARGET "\",\"clients\":{\"agent\":\"a2\","
                                    "\"bot\":\"b2\"},\"scopes\":[\"read\"],\"resources\":[\"" API
                                    "\"],\"ttl\":60},"
                                    "{\"issuer\":\"http://127.0.0.1:9000\",\"clients\":{\"agent\":"
                                    "\"x\"}}]",
                                 &err),
                     MDT_OK);
    assert_non_null(tg = mdt_trust_target_find(t, TARGET));
    assert_int_equal(tg->ttl, 60);
    assert_int_equal(tg->nscopes, 1);
    assert_string_equal(tg->scopes[0], "read");
    assert_int_equal(tg->nresources, 1);
    assert_string_equal(mdt_id_jag_target_client(tg, "agent"), "a2");
    assert_string_equal(mdt_id_jag_target_client(tg, "bot"), "b2");
    assert_null(mdt_id_jag_target_client(tg, "agent2"));
    assert_null(mdt_id_jag_target_client(tg, NULL));
    assert_non_null(tg = mdt_trust_target_find(t, "http://127.0.0.1:9000"));
    assert_int_equal(tg->ttl, MDT_ID_JAG_LIFETIME_DEFAULT);
    assert_int_equal(tg->nscopes, 0);
    assert_null(mdt_trust_target_find(t, TARGET "/"));
    assert_null(mdt_trust_target_find(t, NULL));
    assert_null(mdt_trust_target_find(NULL, TARGET));
    mdt_trust_free(t);

    expect_target_error("{", ":1:");
    expect_target_error("{}", "JSON array");
    expect_target_error("[1]", "must be an object");
    expect_target_error("[{\"clients\":{\"a\":\"b\"}}]", "issuer must be");
    expect_target_error("[{\"issuer\":\"http://t.example\",\"clients\":{\"a\":\"b\"}}]",
                        "issuer must be an https URL");
    expect_target_error("[{\"issuer\":\"https://t?x=1\",\"clients\":{\"a\":\"b\"}}]",
                        "issuer must be");
    expect_target_error("[{\"issuer\":\"https://kept\",\"clients\":{\"a\":\"b\"}}]",
                        "listed twice");
    expect_target_error("[{\"issuer\":\"https://t\"}]", "clients must be");
    expect_target_error("[{\"issuer\":\"https://t\",\"clients\":{}}]", "clients must be");
    expect_target_error("[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"\"}}]", "clients must");
    expect_target_error("[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"b\"},\"ttl\":5}]",
                        "ttl must be");
    expect_target_error("[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"b\"},\"ttl\":3601}]",
                        "ttl must be");
    expect_target_error(
        "[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"b\"},\"scopes\":[\"a b\"]}]",
        "scopes must be");
    expect_target_error(
        "[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"b\"},\"resources\":[\"urn:x\"]}]",
        "resources must be");
    expect_target_error("[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"b\"},\"aud\":1}]",
                        "unknown member 'aud'");
    /* a bad second entry keeps the first one out too */
    expect_target_error("[{\"issuer\":\"https://t\",\"clients\":{\"a\":\"b\"}},{\"issuer\":1}]",
                        "issuer 2");
}

static void test_id_jag_issuer(void **state)
{
    mdt_config cfg = {0};
    mdt_trust *t = NULL;
    mdt_err err = {0};
    const mdt_trusted_issuer *ti;
    const char *ok = "[{\"issuer\":\"https://idp\",\"jwks_uri\":\"https://idp/jwks\","
                     "\"id_jag\":true,\"rules\":[{}]},"
                     "{\"issuer\":\"https://plain\",\"jwks_uri\":\"https://plain/jwks\","
                     "\"rules\":[{}]}]";
    static const char *const bad[][2] = {
        {"[{\"issuer\":\"https://i\",\"jwks_uri\":\"https://i/j\",\"id_jag\":\"yes\",\"rules\":"
         "[{}]}]",
         "id_jag must be true or false"},
        {"[{\"issuer\":\"https://i\",\"jwks_uri\":\"https://i/j\",\"id_jag\":true,"
         "\"single_use\":false,\"rules\":[{}]}]",
         "single_use cannot be false"},
    };

    (void)state;
    cfg.issuer = (char *)TARGET;
    assert_int_equal(mdt_trust_new(&t, &err), MDT_OK);
    assert_int_equal(mdt_trust_add(t, MDT_TRUST_JWT_BEARER, ok, strlen(ok), "i.json", &cfg, &err),
                     MDT_OK);
    assert_non_null(ti = mdt_trust_find(t, MDT_TRUST_JWT_BEARER, "https://idp"));
    assert_true(ti->id_jag);
    assert_true(ti->single_use);
    assert_int_equal(ti->max_lifetime, MDT_ID_JAG_LIFETIME_DEFAULT);
    assert_non_null(ti = mdt_trust_find(t, MDT_TRUST_JWT_BEARER, "https://plain"));
    assert_false(ti->id_jag);
    assert_int_equal(ti->max_lifetime, MDT_JWT_BEARER_LIFETIME_DEFAULT);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mdt_trust_add(t, MDT_TRUST_JWT_BEARER, bad[i][0], strlen(bad[i][0]),
                                       "i.json", &cfg, &err),
                         MDT_ERR_CONFIG);
        if (!strstr(err.detail, bad[i][1]))
            fail_msg("want '%s', got '%s'", bad[i][1], err.detail);
    }
    /* a workload issuer cannot be marked */
    assert_int_equal(mdt_trust_add(t, MDT_TRUST_WORKLOAD, ok, strlen(ok), "w.json", &cfg, &err),
                     MDT_ERR_CONFIG);
    mdt_trust_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims_json),   cmocka_unit_test(test_narrow),
        cmocka_unit_test(test_typ),           cmocka_unit_test(test_accept_claims),
        cmocka_unit_test(test_targets_file),  cmocka_unit_test(test_id_jag_issuer),
        cmocka_unit_test(test_auth_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
