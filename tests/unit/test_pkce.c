/* PKCE S256 (RFC 7636): the Appendix B vector, plain refused, verifier
 * length and character set; scope coverage of remembered consents. */
#include "unit.h"

#include "core/arena.h"
#include "iga/consent.h"
#include "oauth/pkce.h"

#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static void test_appendix_b(void **state)
{
    char c[MDT_PKCE_CHALLENGE_LEN + 1];

    (void)state;
    mdt_pkce_s256(VERIFIER, c);
    assert_string_equal(c, CHALLENGE);
    assert_true(mdt_pkce_verify(VERIFIER, CHALLENGE));
    assert_false(mdt_pkce_verify(VERIFIER "x", CHALLENGE));
    assert_false(mdt_pkce_verify(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
    assert_false(mdt_pkce_verify(NULL, CHALLENGE));
    assert_false(mdt_pkce_verify(VERIFIER, NULL));
    assert_false(mdt_pkce_verify(CHALLENGE, CHALLENGE)); /* plain: the challenge as verifier */
}

static void test_request_check(void **state)
{
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_pkce_request_check(CHALLENGE, "S256", &err), MDT_OK);
    assert_int_equal(mdt_pkce_request_check(CHALLENGE, "plain", &err), MDT_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.msg, "plain"));
    assert_int_equal(mdt_pkce_request_check(CHALLENGE, "s256", &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_pkce_request_check(CHALLENGE, NULL, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_pkce_request_check(NULL, "S256", &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_pkce_request_check("", "S256", &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_pkce_request_check(CHALLENGE "A", "S256", &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_pkce_request_check("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", "S256",
                                            &err), MDT_ERR_INVALID_REQUEST);
}

static void test_verifier_syntax(void **state)
{
    char v[200];

    (void)state;
    memset(v, 'a', sizeof(v));
    v[42] = '\0';
    assert_false(mdt_pkce_verifier_valid(v)); /* 42 */
    v[42] = 'a';
    v[43] = '\0';
    assert_true(mdt_pkce_verifier_valid(v)); /* 43 */
    memset(v, 'a', sizeof(v));
    v[128] = '\0';
    assert_true(mdt_pkce_verifier_valid(v)); /* 128 */
    v[128] = 'a';
    v[129] = '\0';
    assert_false(mdt_pkce_verifier_valid(v)); /* 129 */
    assert_true(mdt_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456-._~"));
    assert_false(mdt_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456+/="));
    assert_false(mdt_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456 %"));
    assert_false(mdt_pkce_verifier_valid(""));
    assert_false(mdt_pkce_verifier_valid(NULL));
}

static void test_scope_covers(void **state)
{
    mdt_arena a;

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_true(mdt_scope_covers("read write", "write"));
    assert_true(mdt_scope_covers("read write", ""));
    assert_true(mdt_scope_covers("read write", "read  write"));
    assert_false(mdt_scope_covers("read write", "read admin"));
    assert_false(mdt_scope_covers("readwrite", "read"));
    assert_false(mdt_scope_covers("", "read"));
    assert_string_equal(mdt_scope_union(&a, "read", "write read x"), "read write x");
    assert_string_equal(mdt_scope_union(&a, "", "a"), "a");
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appendix_b), cmocka_unit_test(test_request_check),
        cmocka_unit_test(test_verifier_syntax), cmocka_unit_test(test_scope_covers),
    };
    return cmocka_run_group_tests_name("pkce", tests, NULL, NULL);
}
