/* What a person's consent adds to a client (oauth/scope_check.c): an
 * unvouched self-registered client may ask for consentable scopes, any
 * client for a protected resource; and the [forward_auth] resources file
 * (iga/resources.c). */
#include "unit.h"

#include <stdio.h>
#include <unistd.h>

#include "core/arena.h"
#include "iga/resources.h"
#include "oauth/grants.h"

static void test_consented_view(void **state)
{
    mdt_arena a;
    mdt_err err = {0};
    const char *own[] = {"read"};
    const char *ok[] = {"read", "write"};
    mdt_client c = {.client_id = "mdt_x", .scopes = own, .nscopes = 1, .origin = "dcr"};
    mdt_client v;
    const char *granted;
    const char *const *aud;
    size_t naud;

    (void)state;
    mdt_arena_init(&a, 1024);
    assert_true(mdt_client_unvouched(&c));
    assert_int_equal(mdt_scope_consented_view(&a, &c, ok, 2, "https://mcp", true, &v, &err), MDT_OK);
    assert_int_equal(v.nscopes, 2); /* read once, write added */
    assert_int_equal(mdt_scope_narrow(&a, &v, "read write", &granted, &err), MDT_OK);
    assert_string_equal(granted, "read write");
    /* a scope asked twice is granted once */
    assert_int_equal(mdt_scope_narrow(&a, &v, "write read write read", &granted, &err), MDT_OK);
    assert_string_equal(granted, "write read");
    assert_int_equal(mdt_resource_select(&a, &v, "https://as", "https://mcp", &aud, &naud, &err),
                     MDT_OK);
    assert_int_equal(c.nscopes, 1); /* the client itself is untouched */
    /* an unlisted resource is not added */
    assert_int_equal(mdt_scope_consented_view(&a, &c, ok, 2, "https://other", false, &v, &err),
                     MDT_OK);
    assert_int_equal(mdt_resource_select(&a, &v, "https://as", "https://other", &aud, &naud, &err),
                     MDT_ERR_INVALID_TARGET);
    /* vouched for (statement, token) or made by an admin: its scopes are its own */
    c.vouched_by = "https://publisher";
    assert_false(mdt_client_unvouched(&c));
    assert_int_equal(mdt_scope_consented_view(&a, &c, ok, 2, "https://mcp", true, &v, &err), MDT_OK);
    assert_int_equal(v.nscopes, 1);
    assert_int_equal(v.nresources, 1); /* the protected resource still: any client */
    c.vouched_by = NULL;
    c.iat_id = "iat_1";
    assert_false(mdt_client_unvouched(&c));
    c.iat_id = NULL;
    c.origin = NULL;
    assert_false(mdt_client_unvouched(&c));
    mdt_arena_free(&a);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/mdt-resources-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_resources_file(void **state)
{
    static const struct {
        const char *text;
        mdt_rc rc;
    } cases[] = {
        {"[{\"resource\":\"https://mcp.example.com/mcp\",\"resource_name\":\"M\","
         "\"match\":\"https://mcp.example.com:443/mcp\",\"scopes\":{\"GET\":[\"read\"],"
         "\"*\":[\"read\"]}}]",
         MDT_OK},
        {"[]", MDT_OK},
        {"{}", MDT_ERR_CONFIG},
        {"[{\"resource\":\"https://a\"}]", MDT_ERR_CONFIG},
        {"[{\"resource\":\"https://a#f\",\"match\":\"https://a:443/\"}]", MDT_ERR_CONFIG},
        {"[{\"resource\":\"https://a\",\"match\":\"https://a:443/?q\"}]", MDT_ERR_CONFIG},
        {"[{\"resource\":\"https://a\",\"match\":\"https://a:443/\",\"x\":1}]",
         MDT_ERR_CONFIG},
        {"[{\"resource\":\"https://a\",\"match\":\"https://a:443/\",\"scopes\":{\"GET\":[\"a b\"]}}]",
         MDT_ERR_CONFIG},
        {"[{\"resource\":\"https://a\",\"match\":\"https://a:443/\"},"
         "{\"resource\":\"https://a\",\"match\":\"https://b:443/\"}]",
         MDT_ERR_CONFIG},
    };
    mdt_resources *r = NULL;
    mdt_err err = {0};

    (void)state;
    assert_int_equal(mdt_resources_load("", &r, &err), MDT_OK);
    assert_null(r);
    assert_false(mdt_resources_has(NULL, "https://a"));
    assert_int_equal(mdt_resources_load("/nonexistent/r.json", &r, &err), MDT_ERR_CONFIG);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = write_tmp(cases[i].text);
        mdt_rc rc = mdt_resources_load(path, &r, &err);
        unlink(path);
        assert_int_equal(rc, cases[i].rc);
        if (i == 0) {
            assert_true(mdt_resources_has(r, "https://mcp.example.com/mcp"));
            assert_false(mdt_resources_has(r, "https://mcp.example.com"));
            assert_int_equal(mdt_resources_count(r), 1);
            assert_string_equal(mdt_resources_uri(r, 0), "https://mcp.example.com/mcp");
        } else if (rc != MDT_OK) {
            assert_null(r);
            assert_non_null(strstr(err.detail, "/tmp/mdt-resources-"));
        }
        mdt_resources_free(r);
        r = NULL;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consented_view),
        cmocka_unit_test(test_resources_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
