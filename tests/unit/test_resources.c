/* Matching forwarded requests to the [forward_auth] resources file
 * (iga/resources.h): longest path prefix on a segment boundary, host
 * without case, default ports; required scopes per method; the RFC 9728
 * metadata of each entry. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "iga/resources.h"

static const char *const FILE_TEXT =
    "[{\"resource\":\"https://api.example.com\",\"resource_name\":\"API\","
    "\"match\":\"https://api.example.com:443/\",\"scopes\":{\"*\":[\"api\"]}},"
    " {\"resource\":\"https://api.example.com/mcp\",\"resource_name\":\"MCP\","
    "\"match\":\"https://API.example.com:443/mcp\","
    "\"scopes\":{\"GET\":[\"mcp:read\"],\"POST\":[\"mcp:write\",\"mcp:read\"],\"*\":[\"mcp\"]}},"
    " {\"resource\":\"https://api.example.com/mcp/admin\","
    "\"match\":\"https://api.example.com:443/mcp/admin/\"},"
    " {\"resource\":\"http://[::1]:8080/v1\",\"match\":\"http://[::1]:8080/v1\","
    "\"scopes\":{\"GET\":[\"v1\"]}},"
    " {\"resource\":\"urn:example:plain\",\"match\":\"http://plain.example:80/\"}]";

static mdt_resources *load(void)
{
    char path[64];
    mdt_resources *r = NULL;
    mdt_err err = {0};
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "/tmp/mdt-resources-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(FILE_TEXT, f);
    fclose(f);
    assert_int_equal(mdt_resources_load(path, &r, &err), MDT_OK);
    unlink(path);
    return r;
}

typedef struct {
    const char *scheme, *host, *path;
    long want; /* entry index; -1: none */
} find_case;

static void test_find(void **state)
{
    static const find_case cases[] = {
        {"https", "api.example.com", "/mcp", 1},
        {"https", "api.example.com", "/mcp/", 1},
        {"https", "api.example.com", "/mcp/tools/x", 1},
        {"https", "api.example.com", "/mcpx", 0},          /* not a segment boundary */
        {"https", "api.example.com", "/mcp/admin", 2},     /* the longest prefix wins */
        {"https", "api.example.com", "/mcp/admin/users", 2},
        {"https", "api.example.com", "/mcp/adminx", 1},
        {"https", "API.Example.COM", "/mcp", 1},           /* host without case */
        {"https", "api.example.com:443", "/mcp", 1},       /* the default port, explicit */
        {"https", "api.example.com:8443", "/mcp", -1},     /* another port */
        {"http", "api.example.com", "/mcp", -1},           /* another scheme (port 80) */
        {"http", "api.example.com:443", "/mcp", -1},
        {"https", "other.example.com", "/mcp", -1},
        {"https", "api.example.com", "/", 0},
        {"https", "api.example.com", "/anything", 0},
        {"http", "[::1]:8080", "/v1", 3},
        {"http", "[::1]:8080", "/v1/x", 3},
        {"http", "[::1]:8080", "/v2", -1},
        {"http", "[::1]", "/v1", -1},                      /* port 80 */
        {"http", "plain.example", "/x", 4},
        {"https", "api.example.com", "mcp", -1},           /* not a path */
        {"https", "", "/mcp", -1},
        {"https", "api.example.com:", "/mcp", -1},
        {"https", "api.example.com:99999", "/mcp", -1},
        {"https", "api.example.com:44x", "/mcp", -1},
        {"http", "[::1:8080", "/v1", -1},
    };
    mdt_resources *r = load();
    size_t idx;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool found = mdt_resources_find(r, cases[i].scheme, cases[i].host, cases[i].path, &idx);
        if (cases[i].want < 0) {
            if (found)
                fail_msg("case %zu (%s %s %s) matched entry %zu", i, cases[i].scheme,
                         cases[i].host, cases[i].path, idx);
            continue;
        }
        if (!found || (long)idx != cases[i].want)
            fail_msg("case %zu (%s %s %s): want entry %ld", i, cases[i].scheme, cases[i].host,
                     cases[i].path, cases[i].want);
    }
    assert_false(mdt_resources_find(NULL, "https", "api.example.com", "/", &idx));
    mdt_resources_free(r);
}

static void test_scopes(void **state)
{
    mdt_resources *r = load();

    (void)state;
    assert_string_equal(mdt_resources_scopes(r, 1, "GET"), "mcp:read");
    assert_string_equal(mdt_resources_scopes(r, 1, "POST"), "mcp:write mcp:read");
    assert_string_equal(mdt_resources_scopes(r, 1, "DELETE"), "mcp"); /* "*" */
    assert_string_equal(mdt_resources_scopes(r, 1, "get"), "mcp");    /* methods are exact */
    assert_string_equal(mdt_resources_scopes(r, 0, "PUT"), "api");
    assert_string_equal(mdt_resources_scopes(r, 2, "GET"), "");       /* none */
    assert_string_equal(mdt_resources_scopes(r, 3, "POST"), "");      /* no "*": none */
    assert_string_equal(mdt_resources_scopes(r, 9, "GET"), "");
    assert_string_equal(mdt_resources_scopes_all(r, 1), "mcp:read mcp:write mcp");
    assert_string_equal(mdt_resources_scopes_all(r, 2), "");
    mdt_resources_free(r);
}

static void test_metadata(void **state)
{
    mdt_resources *r = load();
    size_t idx = 99;

    (void)state;
    assert_string_equal(mdt_resources_metadata_url(r, 0),
                        "https://api.example.com/.well-known/oauth-protected-resource");
    assert_string_equal(mdt_resources_metadata_url(r, 1),
                        "https://api.example.com/.well-known/oauth-protected-resource/mcp");
    assert_string_equal(mdt_resources_metadata_url(r, 3),
                        "http://[::1]:8080/.well-known/oauth-protected-resource/v1");
    assert_null(mdt_resources_metadata_url(r, 4)); /* not an http(s) identifier */
    assert_true(mdt_resources_find_metadata(r, "api.example.com", "/mcp", &idx));
    assert_int_equal(idx, 1);
    assert_true(mdt_resources_find_metadata(r, "API.example.com:443", "/mcp/", &idx));
    assert_int_equal(idx, 1);
    assert_true(mdt_resources_find_metadata(r, "api.example.com", "", &idx));
    assert_int_equal(idx, 0);
    assert_true(mdt_resources_find_metadata(r, "api.example.com", "/mcp/admin", &idx));
    assert_int_equal(idx, 2);
    /* another host: the one entry with that path */
    assert_true(mdt_resources_find_metadata(r, "127.0.0.1:9000", "/mcp", &idx));
    assert_int_equal(idx, 1);
    assert_true(mdt_resources_find_metadata(r, NULL, "/v1", &idx));
    assert_int_equal(idx, 3);
    assert_false(mdt_resources_find_metadata(r, "api.example.com", "/nope", &idx));
    assert_false(mdt_resources_find_metadata(r, "api.example.com", "/mc", &idx));
    assert_false(mdt_resources_find_metadata(NULL, "api.example.com", "", &idx));
    mdt_resources_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
