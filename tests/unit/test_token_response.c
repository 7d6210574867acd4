/* The token endpoint's success body (mdt_token_response), byte for byte:
 * it is assembled without printf, and must read as %lld and JSON would. */
#include "unit.h"

#include <limits.h>

#include "core/buf.h"
#include "oauth/tokens.h"

static void expect(const mdt_issued *t, const char *scope, const char *want)
{
    mdt_buf b;

    mdt_buf_init(&b, 4096);
    assert_int_equal(mdt_token_response(t, scope, &b), MDT_OK);
    assert_string_equal(b.data, want);
    mdt_buf_free(&b);
}

static void test_bearer_with_scope(void **state)
{
    mdt_issued t = {.access_token = "eyJ.eyJ.sig", .expires_in = 3600};
    (void)state;
    expect(&t, "read write",
           "{\"access_token\":\"eyJ.eyJ.sig\",\"token_type\":\"Bearer\",\"expires_in\":3600,"
           "\"scope\":\"read write\"}");
    expect(&t, "", "{\"access_token\":\"eyJ.eyJ.sig\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
    expect(&t, NULL, "{\"access_token\":\"eyJ.eyJ.sig\",\"token_type\":\"Bearer\",\"expires_in\":3600}");
}

static void test_dpop_and_escaping(void **state)
{
    mdt_issued t = {.access_token = "a\"b\\c", .token_type = "DPoP", .expires_in = 1};
    (void)state;
    expect(&t, "x\"y", "{\"access_token\":\"a\\\"b\\\\c\",\"token_type\":\"DPoP\",\"expires_in\":1,"
                       "\"scope\":\"x\\\"y\"}");
}

/* Every integer as %lld writes it, the extremes included. */
static void test_expires_in_as_printf(void **state)
{
    const long long vals[] = {0, 1, 9, 10, 59, 86400, 1000000007, -1, -10, LLONG_MAX, LLONG_MIN};
    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        mdt_issued t = {.access_token = "t", .expires_in = vals[i]};
        char want[128];
        snprintf(want, sizeof(want),
                 "{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"expires_in\":%lld}", vals[i]);
        expect(&t, NULL, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_with_scope),
        cmocka_unit_test(test_dpop_and_escaping),
        cmocka_unit_test(test_expires_in_as_printf),
    };
    return cmocka_run_group_tests_name("token_response", tests, NULL, NULL);
}
