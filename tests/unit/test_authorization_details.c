/* RFC 9396 authorization_details: the structure accepted at /bc-authorize
 * and carried unchanged (as compact JSON) into the approved token. */
#include "unit.h"

#include <string.h>

#include "core/arena.h"
#include "oauth/authorization_details.h"

static mdt_rc check(mdt_arena *a, const char *text, const char **out)
{
    mdt_err err = {0};
    mdt_rc rc = mdt_authorization_details_check(text, a, out, &err);

    if (rc != MDT_OK)
        assert_int_equal(err.rc, rc);
    return rc;
}

static void test_accepted(void **state)
{
    mdt_arena a;
    const char *out = NULL;

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(check(&a, "[ {\"type\": \"payment_initiation\", \"instructedAmount\": "
                               "{\"currency\": \"EUR\", \"amount\": \"120.00\"}} ]", &out), MDT_OK);
    assert_string_equal(out, "[ {\"type\": \"payment_initiation\", \"instructedAmount\": "
                             "{\"currency\": \"EUR\", \"amount\": \"120.00\"}} ]");
    /* the text as sent: member order and the digits of numbers kept */
    assert_int_equal(check(&a, "[{\"z\":3.14159,\"type\":\"t\",\"a\":[1e5,2]},{\"type\":\"u\"}]",
                           &out),
                     MDT_OK);
    assert_string_equal(out, "[{\"z\":3.14159,\"type\":\"t\",\"a\":[1e5,2]},{\"type\":\"u\"}]");
    /* six levels, the array being the first */
    assert_int_equal(check(&a, "[{\"type\":\"t\",\"a\":[[[[1]]]]}]", &out), MDT_OK);
    mdt_arena_free(&a);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {
        "", "not json", "{\"type\":\"t\"}", "[]", "[1]", "[\"t\"]", "[{}]", "[{\"type\":1}]",
        "[{\"type\":\"\"}]", "[{\"type\":null}]", "[{\"type\":\"a\",\"type\":\"b\"}]",
        "[{\"type\":\"t\",\"a\":[[[[[1]]]]]}]", "[{\"type\":\"t\"}] trailing",
    };
    mdt_arena a;
    const char *out = "x";
    char big[MDT_AUTHZ_DETAILS_MAX_BYTES + 64], many[64 * 20];
    size_t n;

    (void)state;
    mdt_arena_init(&a, 4096);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(check(&a, bad[i], &out), MDT_ERR_INVALID_AUTHORIZATION_DETAILS);
        assert_null(out);
    }
    assert_int_equal(check(&a, NULL, &out), MDT_ERR_INVALID_AUTHORIZATION_DETAILS);
    n = (size_t)snprintf(big, sizeof(big), "[{\"type\":\"t\",\"p\":\"");
    memset(big + n, 'p', MDT_AUTHZ_DETAILS_MAX_BYTES);
    memcpy(big + n + MDT_AUTHZ_DETAILS_MAX_BYTES, "\"}]", 4);
    assert_int_equal(check(&a, big, &out), MDT_ERR_INVALID_AUTHORIZATION_DETAILS);
    n = (size_t)snprintf(many, sizeof(many), "[");
    for (int i = 0; i <= MDT_AUTHZ_DETAILS_MAX_ITEMS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%s{\"type\":\"t\"}", i ? "," : "");
    snprintf(many + n, sizeof(many) - n, "]");
    assert_int_equal(check(&a, many, &out), MDT_ERR_INVALID_AUTHORIZATION_DETAILS);
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("authorization_details", tests, NULL, NULL);
}
