/* The admin API's paths: which resource a path names, and its parameters. */
#include "unit.h"

#include "admin/internal.h"
#include "core/arena.h"

typedef struct {
    const char *pattern, *path;
    bool match;
    const char *p1, *p2;
} path_case;

static void test_match(void **state)
{
    static const path_case cases[] = {
        {"clients", "clients", true, NULL, NULL},
        {"clients", "clients/", false, NULL, NULL},
        {"clients", "client", false, NULL, NULL},
        {"clients/*", "clients/mdt_x", true, "mdt_x", NULL},
        {"clients/*", "clients/", false, NULL, NULL},
        {"clients/*/suspend", "clients/mdt_x/suspend", true, "mdt_x", NULL},
        {"clients/*/suspend", "clients//suspend", false, NULL, NULL},
        {"clients/*/suspend", "clients/mdt_x/resume", false, NULL, NULL},
        /* a client ID metadata document's URL holds slashes */
        {"clients/*/suspend", "clients/https://a.example/c.json/suspend", true,
         "https://a.example/c.json", NULL},
        {"clients/*", "clients/https://a.example/c.json", true, "https://a.example/c.json", NULL},
        {"clients/*/apikeys/*", "clients/mdt_x/apikeys/cred_1", true, "mdt_x", "cred_1"},
        {"clients/*/apikeys/*", "clients/mdt_x/apikeys/", false, NULL, NULL},
        {"clients/*/apikeys/*", "clients/apikeys/cred_1", false, NULL, NULL},
        {"clients/*/apikeys/*", "clients/a/b/apikeys/k", true, "a/b", "k"},
        {"requests/*/approve", "requests/req_1/approve", true, "req_1", NULL},
        {"keys/rotate", "keys/rotate", true, NULL, NULL},
        {"openapi.json", "openapi.json", true, NULL, NULL},
        {"openapi.json", "openapiXjson", false, NULL, NULL},
    };
    mdt_arena a;
    (void)state;

    mdt_arena_init(&a, 4096);
    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++) {
        const char *p1 = "unset", *p2 = "unset";
        bool m = mdt_admin__match(cases[i].pattern, cases[i].path, &a, &p1, &p2);
        if (m != cases[i].match)
            fail_msg("%s ~ %s: %d", cases[i].pattern, cases[i].path, m);
        if (!m)
            continue;
        if (cases[i].p1)
            assert_string_equal(p1, cases[i].p1);
        else
            assert_null(p1);
        if (cases[i].p2)
            assert_string_equal(p2, cases[i].p2);
        else
            assert_null(p2);
    }
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}
