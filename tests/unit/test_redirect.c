/* Redirect URI matching (exact; RFC 8252 §7.3 loopback ports for native
 * clients) and building the redirect. */
#include "unit.h"

#include "core/arena.h"
#include "oauth/redirect.h"

static void test_exact(void **state)
{
    const char *r = "https://app.example/cb";

    (void)state;
    assert_true(mdt_redirect_uri_match(r, "https://app.example/cb", false));
    assert_false(mdt_redirect_uri_match(r, "https://app.example/cb/", false));   /* slash */
    assert_false(mdt_redirect_uri_match(r, "https://APP.example/cb", false));    /* case */
    assert_false(mdt_redirect_uri_match(r, "https://app.example/CB", false));
    assert_false(mdt_redirect_uri_match(r, "https://app.example/cb?x=1", false)); /* query */
    assert_false(mdt_redirect_uri_match(r, "https://app.example/cb#f", false));  /* fragment */
    assert_false(mdt_redirect_uri_match(r, "https://app.example:443/cb", false));
    assert_false(mdt_redirect_uri_match(r, "https://app.example.evil/cb", true));
    assert_false(mdt_redirect_uri_match(r, NULL, false));
}

static void test_loopback(void **state)
{
    (void)state;
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb", false));
    assert_true(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb", true));
    assert_true(mdt_redirect_uri_match("http://127.0.0.1:1/cb", "http://127.0.0.1:65535/cb", true));
    assert_true(mdt_redirect_uri_match("http://[::1]/cb", "http://[::1]:8080/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb2", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://[::1]:5000/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1.evil/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:x/cb", true));
    assert_false(mdt_redirect_uri_match("http://localhost/cb", "http://localhost:80/cb", true));
    assert_false(mdt_redirect_uri_match("https://127.0.0.1/cb", "https://127.0.0.1:9/cb", true));
    /* any loopback IP literal of RFC 8252 §7.3: 127.0.0.0/8 and ::1 */
    assert_true(mdt_redirect_uri_match("http://127.0.0.2/cb", "http://127.0.0.2:5000/cb", true));
    assert_true(mdt_redirect_uri_match("http://127.1.2.3:80/cb?a=1", "http://127.1.2.3:9/cb?a=1", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.2/cb", "http://127.0.0.3:5000/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.1/cb", "http://127.1:5000/cb", true));
    assert_false(mdt_redirect_uri_match("http://0x7f.0.0.1/cb", "http://0x7f.0.0.1:5/cb", true));
    assert_false(mdt_redirect_uri_match("http://128.0.0.1/cb", "http://128.0.0.1:5/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1@evil/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:5@evil/cb", true));
    assert_false(mdt_redirect_uri_match("http://[::1]/cb", "http://[::1]@evil/cb", true));
    assert_false(mdt_redirect_uri_match("http://[::1]/cb", "http://[::1:5000/cb", true));
    assert_false(mdt_redirect_uri_match("http://[::2]/cb", "http://[::2]:5000/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1./cb", "http://127.0.0.1.:5/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:123456/cb", true));
    assert_false(mdt_redirect_uri_match("http://127.0.0.1/cb", "http://127.0.0.1:5#x", true));
    assert_false(mdt_redirect_uri_match("HTTP://127.0.0.1/cb", "HTTP://127.0.0.1:5/cb", true));
}

static void test_select_and_build(void **state)
{
    const char *one[] = {"https://a.example/cb"};
    const char *two[] = {"https://a.example/cb", "https://a.example/cb2"};
    const char *out;
    mdt_err err = {0};
    mdt_arena a;

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_redirect_select(one, 1, NULL, false, &out, &err), MDT_OK);
    assert_string_equal(out, one[0]);
    assert_int_equal(mdt_redirect_select(two, 2, NULL, false, &out, &err),
                     MDT_ERR_INVALID_REDIRECT_URI);
    assert_int_equal(mdt_redirect_select(two, 2, "https://a.example/cb2", false, &out, &err),
                     MDT_OK);
    assert_int_equal(mdt_redirect_select(two, 2, "https://a.example/cb3", false, &out, &err),
                     MDT_ERR_INVALID_REDIRECT_URI);
    assert_int_equal(mdt_redirect_select(NULL, 0, NULL, false, &out, &err),
                     MDT_ERR_INVALID_REDIRECT_URI);
    mdt_kv q[] = {{"code", "a b&c"}, {"state", NULL}, {"iss", "https://as.example"}};
    assert_string_equal(mdt_redirect_build(&a, "https://a.example/cb", q, 3),
                        "https://a.example/cb?code=a%20b%26c&iss=https%3A%2F%2Fas.example");
    assert_string_equal(mdt_redirect_build(&a, "https://a.example/cb?x=1", q, 1),
                        "https://a.example/cb?x=1&code=a%20b%26c");
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact), cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_select_and_build),
    };
    return cmocka_run_group_tests_name("redirect", tests, NULL, NULL);
}
