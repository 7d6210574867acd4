/* OpenID Connect token hashes (at_hash, OIDC Core §3.1.3.6): the example of
 * OIDC Core Appendix A for SHA-256 algorithms, SHA-512 for EdDSA; scope
 * word matching. */
#include "unit.h"

#include "oauth/id_token.h"
#include "oauth/refresh.h"

#define OIDC_AT "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"

static void test_at_hash(void **state)
{
    char h[MDT_TOKEN_HASH_MAX];
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_oidc_token_hash("RS256", OIDC_AT, h, &err), MDT_OK);
    assert_string_equal(h, "77QmUPtjPfzWtF2AnpK9RQ"); /* OIDC Core A.3 */
    assert_int_equal(mdt_oidc_token_hash("ES256", OIDC_AT, h, &err), MDT_OK);
    assert_string_equal(h, "77QmUPtjPfzWtF2AnpK9RQ");
    assert_int_equal(mdt_oidc_token_hash("PS256", OIDC_AT, h, &err), MDT_OK);
    assert_string_equal(h, "77QmUPtjPfzWtF2AnpK9RQ");
    /* left half of SHA-512, computed independently (node:crypto) */
    assert_int_equal(mdt_oidc_token_hash("EdDSA", OIDC_AT, h, &err), MDT_OK);
    assert_string_equal(h, "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM");
    assert_int_equal(mdt_oidc_token_hash("HS256", OIDC_AT, h, &err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_oidc_token_hash(NULL, OIDC_AT, h, &err), MDT_ERR_INTERNAL);
}

static void test_scope_has(void **state)
{
    (void)state;
    assert_true(mdt_scope_has("openid profile", "openid"));
    assert_true(mdt_scope_has("read openid", "openid"));
    assert_false(mdt_scope_has("openidx profile", "openid"));
    assert_false(mdt_scope_has("xopenid", "openid"));
    assert_false(mdt_scope_has("", "openid"));
    assert_false(mdt_scope_has(NULL, "openid"));
    assert_true(mdt_refresh_token_like(MDT_REFRESH_PREFIX "abc"));
    assert_false(mdt_refresh_token_like("mdt_at_abc"));
    assert_false(mdt_refresh_token_like(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_at_hash),
        cmocka_unit_test(test_scope_has),
    };
    return cmocka_run_group_tests_name("refresh and OIDC", tests, NULL, NULL);
}
