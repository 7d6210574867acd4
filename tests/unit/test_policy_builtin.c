/* The shipped policies (policy/builtin.h): each parses with our Cedar
 * evaluator under its id, [policy] builtin chooses them, and they decide
 * as docs/guides/writing-policies.md says. */
#include "unit.h"

#include "policy/builtin.h"

static const char entities[] =
    "[{\"uid\":{\"type\":\"Client\",\"id\":\"agent\"},\"attrs\":{\"kind\":\"agent\","
    "\"risk_tier\":\"high\"},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Scope\",\"id\":\"pay\"},\"attrs\":{\"sensitivity\":\"approval\"},"
    "\"parents\":[]},"
    "{\"uid\":{\"type\":\"Scope\",\"id\":\"read\"},\"attrs\":{\"sensitivity\":\"normal\"},"
    "\"parents\":[]}]";

static mdt_cedar_set *set_of(const char *names, mdt_rc want)
{
    mdt_config cfg = {.policy_builtin = (char *)names};
    mdt_cedar_set *s = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_cedar_set_new(&s, &err), MDT_OK);
    assert_int_equal(mdt_policy_builtin_add(&cfg, s, &err), want);
    return s;
}

/* The decision for scope with auth_method at hour; *why: its first reason. */
static bool allowed(const mdt_cedar_set *s, const char *scope, const char *method, int hour,
                    const char *source, const char **why)
{
    mdt_cedar_entities *e = NULL;
    mdt_arena a;
    mdt_err err = {0};
    mdt_cedar_decision d;
    const mdt_cedar_record *ctx;
    char json[512];
    bool allow;

    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_cedar_entities_new(&e, &err), MDT_OK);
    assert_int_equal(mdt_cedar_entities_add_json(e, entities, strlen(entities), &err), MDT_OK);
    snprintf(json, sizeof(json),
             "{\"auth_method\":\"%s\",\"entitlement\":{\"source\":\"%s\",\"expires_at\":%d},"
             "\"risk\":{\"hour\":%d,\"requests_last_minute\":1}}",
             method, source, source[0] == 'a' ? 1900000000 : 0, hour);
    assert_int_equal(mdt_cedar_record_json(&a, json, strlen(json), &ctx, &err), MDT_OK);
    mdt_cedar_request r = {.principal = {"Client", "agent"}, .action = {"Action", "token.issue"},
                           .resource = {"Scope", scope}, .context = ctx};
    assert_int_equal(mdt_cedar_eval(s, (const mdt_cedar_entities *const *)&e, 1, &r, &a, &d, &err),
                     MDT_OK);
    assert_int_equal(d.nerrors, 0);
    allow = d.allow;
    *why = d.nreasons ? strdup(d.reasons[0]) : NULL;
    mdt_cedar_entities_free(e);
    mdt_arena_free(&a);
    return allow;
}

static void test_every_policy_parses(void **state)
{
    size_t n;
    const mdt_policy_builtin *b = mdt_policy_builtins(&n);
    mdt_cedar_set *s = set_of("baseline, business-hours,high-tier-shared-secret , request-burst",
                              MDT_OK);

    (void)state;
    assert_int_equal(n, 4);
    assert_int_equal(mdt_cedar_set_count(s), 4);
    assert_string_equal(mdt_cedar_set_id(s, 0), "mandate.baseline");
    assert_string_equal(mdt_cedar_set_effect(s, 0), "permit");
    for (size_t i = 1; i < 4; i++)
        assert_string_equal(mdt_cedar_set_effect(s, i), "forbid");
    for (size_t i = 0; i < n; i++)
        assert_non_null(mdt_policy_builtin_find(b[i].name, strlen(b[i].name)));
    assert_null(mdt_policy_builtin_find("base", 4));
    mdt_cedar_set_free(s);
}

static void test_chosen_by_name(void **state)
{
    mdt_cedar_set *s;

    (void)state;
    s = set_of("", MDT_OK);
    assert_int_equal(mdt_cedar_set_count(s), 0);
    mdt_cedar_set_free(s);
    s = set_of("baseline,nightly", MDT_ERR_INVALID_REQUEST);
    mdt_cedar_set_free(s);
    s = set_of("baseline,baseline", MDT_ERR_INVALID_REQUEST); /* a duplicate id */
    mdt_cedar_set_free(s);
}

static void test_decisions(void **state)
{
    mdt_cedar_set *s = set_of("baseline,high-tier-shared-secret,business-hours", MDT_OK);
    const char *why = NULL;

    (void)state;
    assert_true(allowed(s, "read", "client_secret_basic", 12, "static", &why));
    assert_string_equal(why, "mandate.baseline");
    free((void *)why);
    assert_false(allowed(s, "pay", "client_secret_basic", 12, "static", &why));
    assert_string_equal(why, "mandate.high-tier-shared-secret");
    free((void *)why);
    assert_true(allowed(s, "pay", "private_key_jwt", 12, "static", &why));
    free((void *)why);
    assert_false(allowed(s, "pay", "private_key_jwt", 22, "static", &why));
    assert_string_equal(why, "mandate.business-hours");
    free((void *)why);
    assert_true(allowed(s, "pay", "private_key_jwt", 22, "access_request", &why));
    free((void *)why);
    mdt_cedar_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_policy_parses),
        cmocka_unit_test(test_chosen_by_name),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests_name("policy_builtin", tests, NULL, NULL);
}
