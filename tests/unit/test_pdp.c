/* External policy decision points: request bodies, answers, keys, cache
 * (policy/pdp_wire.h). */
#include "unit.h"

#include "core/arena.h"
#include "policy/pdp_wire.h"

static const mdt_pdp_query q_read = {
    .subject_type = "Client", .subject_id = "agent-1", .subject_props = "{\"tier\":\"high\"}",
    .action = "token.issue", .resource_type = "Scope", .resource_id = "orders:read",
    .context = "{\"grant_type\":\"client_credentials\",\"risk\":{\"hour\":3}}"};
static const mdt_pdp_query q_write = {.subject_type = "Client", .subject_id = "agent-1",
                                      .action = "token.issue", .resource_type = "Scope",
                                      .resource_id = "orders:write"};

static void test_mode(void **state)
{
    (void)state;
    assert_int_equal(mdt_pdp__mode_parse("off"), MDT_PDP_OFF);
    assert_int_equal(mdt_pdp__mode_parse("embedded"), MDT_PDP_EMBEDDED);
    assert_int_equal(mdt_pdp__mode_parse("authzen"), MDT_PDP_AUTHZEN);
    assert_int_equal(mdt_pdp__mode_parse("opa"), MDT_PDP_OPA);
    assert_int_equal(mdt_pdp__mode_parse("OPA"), -1);
    assert_int_equal(mdt_pdp__mode_parse(NULL), -1);
}

static void test_bodies(void **state)
{
    const mdt_pdp_query q[2] = {q_read, q_write};
    char *body = NULL;
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_pdp__request_body(MDT_PDP_AUTHZEN, q, 2, &body, &err), MDT_OK);
    assert_string_equal(
        body,
        "{\"options\":{\"evaluations_semantic\":\"execute_all\"},\"evaluations\":["
        "{\"subject\":{\"type\":\"Client\",\"id\":\"agent-1\",\"properties\":{\"tier\":\"high\"}},"
        "\"action\":{\"name\":\"token.issue\"},"
        "\"resource\":{\"type\":\"Scope\",\"id\":\"orders:read\"},"
        "\"context\":{\"grant_type\":\"client_credentials\",\"risk\":{\"hour\":3}}},"
        "{\"subject\":{\"type\":\"Client\",\"id\":\"agent-1\"},\"action\":{\"name\":\"token.issue\"},"
        "\"resource\":{\"type\":\"Scope\",\"id\":\"orders:write\"}}]}");
    free(body);
    assert_int_equal(mdt_pdp__request_body(MDT_PDP_OPA, q, 1, &body, &err), MDT_OK);
    assert_string_equal(
        body,
        "{\"input\":{\"evaluations\":["
        "{\"subject\":{\"type\":\"Client\",\"id\":\"agent-1\",\"properties\":{\"tier\":\"high\"}},"
        "\"action\":{\"name\":\"token.issue\"},"
        "\"resource\":{\"type\":\"Scope\",\"id\":\"orders:read\"},"
        "\"context\":{\"grant_type\":\"client_credentials\",\"risk\":{\"hour\":3}}}]}}");
    free(body);
}

static void test_bad_properties(void **state)
{
    mdt_pdp_query q = q_write;
    char *body = (char *)"untouched";
    uint8_t key[MDT_SHA256_LEN];
    mdt_err err = {0};

    (void)state;
    q.context = "[1,2]";
    assert_int_equal(mdt_pdp__request_body(MDT_PDP_AUTHZEN, &q, 1, &body, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_null(body);
    q.context = NULL;
    q.resource_props = "{not json";
    assert_int_equal(mdt_pdp__query_key(&q, key, &err), MDT_ERR_INVALID_REQUEST);
}

static void test_keys(void **state)
{
    uint8_t k1[MDT_SHA256_LEN], k2[MDT_SHA256_LEN], k3[MDT_SHA256_LEN];
    mdt_pdp_query same = q_read, other = q_read;
    mdt_err err = {0};

    (void)state;
    /* the same question written otherwise: same key */
    same.subject_props = "{ \"tier\" : \"high\" }";
    same.context = "{\"risk\":{\"hour\":3},\"grant_type\":\"client_credentials\"}";
    other.context = "{\"grant_type\":\"client_credentials\",\"risk\":{\"hour\":4}}";
    assert_int_equal(mdt_pdp__query_key(&q_read, k1, &err), MDT_OK);
    assert_int_equal(mdt_pdp__query_key(&same, k2, &err), MDT_OK);
    assert_int_equal(mdt_pdp__query_key(&other, k3, &err), MDT_OK);
    assert_memory_equal(k1, k2, MDT_SHA256_LEN);
    assert_memory_not_equal(k1, k3, MDT_SHA256_LEN);
}

static mdt_rc parse(mdt_pdp_mode m, const char *s, size_t n, mdt_arena *a, mdt_pdp_answer *out)
{
    mdt_err err = {0};
    return mdt_pdp__parse_answer(m, s, strlen(s), n, a, out, &err);
}

static void test_authzen_answers(void **state)
{
    mdt_arena a;
    mdt_pdp_answer out[2];

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(parse(MDT_PDP_AUTHZEN,
                           "{\"evaluations\":[{\"decision\":true,\"context\":{\"reasons\":"
                           "[\"p1\",7,\"p2\"],\"errors\":[\"p9\"]}},"
                           "{\"decision\":false,\"context\":{\"reason\":\"outside hours\"}}]}",
                           2, &a, out),
                     MDT_OK);
    assert_true(out[0].allow);
    assert_int_equal(out[0].nreasons, 2);
    assert_string_equal(out[0].reasons[0], "p1");
    assert_string_equal(out[0].reasons[1], "p2");
    assert_int_equal(out[0].nerrors, 1);
    assert_string_equal(out[0].errors[0], "p9");
    assert_false(out[1].allow);
    assert_int_equal(out[1].nreasons, 1);
    assert_string_equal(out[1].reasons[0], "outside hours");
    /* every malformed answer fails, and nothing in out allows */
    static const char *const bad[] = {
        "",
        "not json",
        "[true,true]",
        "{}",
        "{\"evaluations\":{}}",
        "{\"evaluations\":[{\"decision\":true}]}",                         /* short */
        "{\"evaluations\":[{\"decision\":true},{\"decision\":true},{\"decision\":true}]}",
        "{\"evaluations\":[{\"decision\":true},{\"decision\":\"true\"}]}", /* not a boolean */
        "{\"evaluations\":[{\"decision\":true},{}]}",
        "{\"evaluations\":[true,true]}",
        "{\"evaluations\":[{\"decision\":true},{\"decision\":true,\"context\":[]}]}",
        "{\"decision\":true}",
    };
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        assert_int_equal(parse(MDT_PDP_AUTHZEN, bad[i], 2, &a, out), MDT_ERR_UNAVAILABLE);
        assert_false(out[0].allow);
        assert_false(out[1].allow);
    }
    mdt_arena_free(&a);
}

static void test_opa_answers(void **state)
{
    mdt_arena a;
    mdt_pdp_answer out[2];

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(parse(MDT_PDP_OPA, "{\"result\":[true,false]}", 2, &a, out), MDT_OK);
    assert_true(out[0].allow);
    assert_false(out[1].allow);
    assert_int_equal(parse(MDT_PDP_OPA,
                           "{\"result\":[{\"decision\":false,\"reasons\":[\"burst\"]},"
                           "{\"decision\":true}],\"decision_id\":\"x\"}",
                           2, &a, out),
                     MDT_OK);
    assert_false(out[0].allow);
    assert_string_equal(out[0].reasons[0], "burst");
    assert_true(out[1].allow);
    /* OPA answers {} for an undefined document: no decision, refused */
    assert_int_equal(parse(MDT_PDP_OPA, "{}", 2, &a, out), MDT_ERR_UNAVAILABLE);
    assert_int_equal(parse(MDT_PDP_OPA, "{\"result\":true}", 2, &a, out), MDT_ERR_UNAVAILABLE);
    assert_int_equal(parse(MDT_PDP_OPA, "{\"result\":[true]}", 2, &a, out), MDT_ERR_UNAVAILABLE);
    assert_int_equal(parse(MDT_PDP_OPA, "{\"result\":[true,1]}", 2, &a, out),
                     MDT_ERR_UNAVAILABLE);
    assert_false(out[0].allow);
    mdt_arena_free(&a);
}

static void test_cache(void **state)
{
    const char *reasons[] = {"permit-entitled"};
    mdt_pdp_answer yes = {.allow = true, .reasons = reasons, .nreasons = 1}, no = {0}, got;
    uint8_t k1[MDT_SHA256_LEN] = {1, 2, 3}, k2[MDT_SHA256_LEN] = {1, 2, 4};
    mdt_pdp_cache *c = NULL;
    mdt_arena a;
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_pdp__cache_new(&c, &err), MDT_OK);
    assert_false(mdt_pdp__cache_get(c, k1, 100, &a, &got));
    mdt_pdp__cache_put(c, k1, 130, &yes);
    assert_true(mdt_pdp__cache_get(c, k1, 129, &a, &got));
    assert_true(got.allow);
    assert_int_equal(got.nreasons, 1);
    assert_string_equal(got.reasons[0], "permit-entitled");
    assert_false(mdt_pdp__cache_get(c, k1, 130, &a, &got)); /* expired */
    /* k2 shares k1's slot: it replaces it, and k1 is not mistaken for it */
    mdt_pdp__cache_put(c, k2, 200, &no);
    assert_false(mdt_pdp__cache_get(c, k1, 100, &a, &got));
    assert_true(mdt_pdp__cache_get(c, k2, 100, &a, &got));
    assert_false(got.allow);
    mdt_pdp__cache_free(c);
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode),           cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_bad_properties), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_authzen_answers), cmocka_unit_test(test_opa_answers),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests_name("pdp", tests, NULL, NULL);
}
