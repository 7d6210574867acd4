/* Delegation by token exchange, the pure part (oauth/delegation.h): the
 * scope of a new link (subject token ∩ the acting client, only narrowing),
 * the depth of an act chain and its limits, act nesting, may_act, and the
 * lineage a delegated token carries. */
#include "unit.h"

#include <jansson.h>

#include "core/arena.h"
#include "oauth/delegation.h"
#include "oauth/tokens.h"

static mdt_client actor(const char **scopes, size_t n)
{
    mdt_client c = {.client_id = "agent-a", .scopes = scopes, .nscopes = n};
    return c;
}

static void test_scope_intersection(void **state)
{
    const char *scopes[] = {"read", "write", "admin"};
    mdt_client c = actor(scopes, 3);
    mdt_arena a;
    const char *got;
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 4096);
    /* nothing asked: everything both have */
    assert_int_equal(mdt_delegation_scope(&a, "openid read write", &c, NULL, &got, &err), MDT_OK);
    assert_string_equal(got, "read write");
    /* a subset */
    assert_int_equal(mdt_delegation_scope(&a, "openid read write", &c, "write", &got, &err),
                     MDT_OK);
    assert_string_equal(got, "write");
    /* the client is entitled to admin, the subject token does not have it */
    assert_int_equal(mdt_delegation_scope(&a, "read write", &c, "read admin", &got, &err),
                     MDT_ERR_INVALID_SCOPE);
    assert_non_null(strstr(err.msg, "beyond the subject token"));
    /* the subject token has openid, the client is not entitled to it */
    assert_int_equal(mdt_delegation_scope(&a, "openid read", &c, "openid", &got, &err),
                     MDT_ERR_INVALID_SCOPE);
    /* nothing in common */
    assert_int_equal(mdt_delegation_scope(&a, "openid", &c, NULL, &got, &err),
                     MDT_ERR_INVALID_SCOPE);
    assert_int_equal(mdt_delegation_scope(&a, "", &c, NULL, &got, &err), MDT_ERR_INVALID_SCOPE);
    /* an empty scope parameter */
    assert_int_equal(mdt_delegation_scope(&a, "read", &c, "", &got, &err), MDT_ERR_INVALID_SCOPE);
    /* a word is a whole word: "rea" is not "read" */
    assert_int_equal(mdt_delegation_scope(&a, "rea writer", &c, NULL, &got, &err),
                     MDT_ERR_INVALID_SCOPE);
    mdt_arena_free(&a);
}

static void test_depth(void **state)
{
    json_t *one = json_pack("{s:s}", "sub", "a");
    json_t *two = json_pack("{s:s,s:O}", "sub", "b", "act", one);
    json_t *deep = json_incref(two);
    const int64_t two_limits[] = {2, 2}, strict[] = {2, 1}, zero[] = {0};

    (void)state;
    assert_int_equal(mdt_delegation_depth(NULL), 0);
    assert_int_equal(mdt_delegation_depth(one), 1);
    assert_int_equal(mdt_delegation_depth(two), 2);
    for (int i = 0; i < 20; i++) {
        json_t *next = json_pack("{s:s,s:o}", "sub", "x", "act", deep);
        deep = next;
    }
    assert_int_equal(mdt_delegation_depth(deep), MDT_DELEGATION_DEPTH_MAX + 1); /* bounded */
    assert_int_equal(mdt_delegation_depth(json_object_get(one, "sub")), 0); /* not an object */
    /* limits: every client of the chain; the most restrictive wins */
    assert_true(mdt_delegation_depth_ok(2, two_limits, 2));
    assert_false(mdt_delegation_depth_ok(3, two_limits, 2));
    assert_false(mdt_delegation_depth_ok(2, strict, 2));
    assert_true(mdt_delegation_depth_ok(1, strict, 2));
    assert_false(mdt_delegation_depth_ok(1, zero, 1));
    assert_false(mdt_delegation_depth_ok(MDT_DELEGATION_DEPTH_MAX + 1, NULL, 0));
    json_decref(deep);
    json_decref(two);
    json_decref(one);
}

static void test_act_nesting(void **state)
{
    mdt_arena a;
    const char *out;
    json_t *prev, *got;
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_delegation_act(&a, "agent-a", NULL, &out, &err), MDT_OK);
    assert_string_equal(out, "{\"sub\":\"agent-a\"}");
    prev = json_loads(out, 0, NULL);
    assert_int_equal(mdt_delegation_act(&a, "agent-b", prev, &out, &err), MDT_OK);
    got = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(got, "sub")), "agent-b");
    assert_true(json_equal(json_object_get(got, "act"), prev));
    assert_int_equal(mdt_delegation_depth(got), 2);
    /* a name that needs escaping stays one string */
    assert_int_equal(mdt_delegation_act(&a, "a\"b", NULL, &out, &err), MDT_OK);
    assert_string_equal(out, "{\"sub\":\"a\\\"b\"}");
    json_decref(got);
    json_decref(prev);
    mdt_arena_free(&a);
}

static void test_may_act(void **state)
{
    json_t *by_sub = json_pack("{s:s}", "sub", "agent-a");
    json_t *by_id = json_pack("{s:s}", "client_id", "agent-b");
    json_t *empty = json_object(), *str = json_string("agent-a");

    (void)state;
    assert_true(mdt_delegation_may_act(NULL, "anyone"));
    assert_true(mdt_delegation_may_act(by_sub, "agent-a"));
    assert_false(mdt_delegation_may_act(by_sub, "agent-b"));
    assert_true(mdt_delegation_may_act(by_id, "agent-b"));
    assert_false(mdt_delegation_may_act(by_id, "agent-a"));
    assert_false(mdt_delegation_may_act(empty, "agent-a"));
    assert_false(mdt_delegation_may_act(str, "agent-a"));
    assert_false(mdt_delegation_may_act(by_sub, NULL));
    json_decref(by_sub);
    json_decref(by_id);
    json_decref(empty);
    json_decref(str);
}

static void test_lineage(void **state)
{
    mdt_arena a;
    const char *out;
    json_t *first, *second, *long_one = json_pack("{s:[]}", "jti");
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 4096);
    /* from a person's token of app */
    assert_int_equal(mdt_delegation_lineage(&a, "j0", "app", NULL, &out, &err), MDT_OK);
    first = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(first, "jti"), 0)), "j0");
    assert_string_equal(json_string_value(json_object_get(first, "client_id")), "app");
    /* from that one, issued to agent-a: the origin stays app, the nearest comes first */
    assert_int_equal(mdt_delegation_lineage(&a, "j1", "agent-a", first, &out, &err), MDT_OK);
    second = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(second, "jti")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(second, "jti"), 0)), "j1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(second, "jti"), 1)), "j0");
    assert_string_equal(json_string_value(json_object_get(second, "client_id")), "app");
    /* a foreign token without jti: nothing to follow */
    assert_int_equal(mdt_delegation_lineage(&a, NULL, NULL, NULL, &out, &err), MDT_OK);
    assert_null(out);
    /* bounded */
    for (int i = 0; i < MDT_DELEGATION_LINEAGE_MAX; i++)
        json_array_append_new(json_object_get(long_one, "jti"), json_string("j"));
    assert_int_equal(mdt_delegation_lineage(&a, "jn", "c", long_one, &out, &err),
                     MDT_ERR_INVALID_REQUEST);
    json_decref(long_one);
    json_decref(second);
    json_decref(first);
    mdt_arena_free(&a);
}

/* Which tokens end with the person's session: all but a grant for offline
 * access (OIDC Core §11), and none without a session. */
static void test_session_binding(void **state)
{
    (void)state;
    assert_string_equal(mdt_token_session_sid("s1", "openid read"), "s1");
    assert_string_equal(mdt_token_session_sid("s1", "read"), "s1");
    assert_null(mdt_token_session_sid("s1", "openid offline_access read"));
    assert_null(mdt_token_session_sid("s1", "offline_access"));
    assert_string_equal(mdt_token_session_sid("s1", "offline_accessory"), "s1");
    assert_null(mdt_token_session_sid("", "read"));
    assert_null(mdt_token_session_sid(NULL, "read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_intersection),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_act_nesting),
        cmocka_unit_test(test_may_act),
        cmocka_unit_test(test_lineage),
        cmocka_unit_test(test_session_binding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
