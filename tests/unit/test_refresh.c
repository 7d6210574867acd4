/* OpenID Connect token hashes (at_hash, OIDC Core §3.1.3.6): the example of
 * OIDC Core Appendix A for SHA-256 algorithms, SHA-512 for EdDSA; scope
 * word matching; the issue time and expiry every grant gives its tokens. */
#include "unit.h"

#include "oauth/id_token.h"
#include "oauth/refresh.h"
#include "oauth/tokens.h"

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

static void test_token_times(void **state)
{
    mdt_client c = {0};
    mdt_grant g = {0};

    (void)state;
    mdt_token_times(&g, &c, 1000, 600, 0);
    assert_int_equal(g.iat, 1000);
    assert_int_equal(g.exp, 1600);
    /* suspended at 999 and resumed in the same second: not issued before it */
    c.tokens_valid_after = 1001;
    assert_int_equal(mdt_token_iat(&c, 1000), 1001);
    mdt_token_times(&g, &c, 1000, 600, 0);
    assert_int_equal(g.iat, 1001);
    assert_int_equal(g.exp, 1601);
    /* never beyond the limit (an API key's expiry) nor the client's expiry */
    mdt_token_times(&g, &c, 1000, 600, 1300);
    assert_int_equal(g.exp, 1300);
    c.expires_at = 1200;
    mdt_token_times(&g, &c, 1000, 600, 1300);
    assert_int_equal(g.exp, 1200);
    c.tokens_valid_after = 0;
    assert_int_equal(mdt_token_iat(&c, 1000), 1000);
}

/* The one expiry clamp of every grant (access and refresh tokens alike). */
static void test_token_exp_clamp(void **state)
{
    mdt_client c = {0};

    (void)state;
    assert_int_equal(mdt_token_exp_clamp(&c, 5000), 5000); /* no client expiry */
    c.expires_at = 1200;
    assert_int_equal(mdt_token_exp_clamp(&c, 5000), 1200);
    assert_int_equal(mdt_token_exp_clamp(&c, 1200), 1200);
    assert_int_equal(mdt_token_exp_clamp(&c, 1100), 1100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_at_hash),
        cmocka_unit_test(test_scope_has),
        cmocka_unit_test(test_token_times),
        cmocka_unit_test(test_token_exp_clamp),
    };
    return cmocka_run_group_tests_name("refresh and OIDC", tests, NULL, NULL);
}
