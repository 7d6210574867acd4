/* The pure parts of /forward-auth (pep/forward_auth.h): which forwarded
 * paths may be matched, the X-Mandate-Act header, challenges; and the
 * per-minute tally of decisions (pep/tally.h). */
#include "unit.h"

#include <string.h>

#include "pep/forward_auth.h"
#include "oauth/dpop.h"
#include "pep/tally.h"

static void test_path_ok(void **state)
{
    static const char *const good[] = {"/", "/mcp", "/mcp/", "/mcp/tools/x", "/a.b/c..d/.e",
                                       "/a%20b", "/..x", "/x..", "/a%3Fb",
                                       "/a%25b", "/%E2%82%AC"};
    static const char *const bad[] = {"", "mcp", "//", "/a//b", "/.", "/..", "/a/./b",
                                      "/a/../b", "/a/..", "/%2e%2e/x", "/%2E/x", "/a%2fb",
                                      "/a%2Fb", "/a%5cb", "/a\\b", "/a b", "/a\tb", "/a%00b",
                                      "/a\x7f", "/%41bc", "/%6Dcp", "/%6dcp",
                                      "/a%7e", "/a%5F", "/a%2D", "/a%3", "/a%", "/a%zz",
                                      "/a\xc3\xa9"};
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!mdt_fwd_path_ok(good[i]))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mdt_fwd_path_ok(bad[i]))
            fail_msg("accepted %s", bad[i]);
    assert_false(mdt_fwd_path_ok(NULL));
}

static void test_act_header(void **state)
{
    mdt_arena a;
    bool bad;
    json_t *c;

    (void)state;
    mdt_arena_init(&a, 4096);
    c = json_loads("{\"sub\":\"u\"}", 0, NULL);
    assert_null(mdt_fwd_act_header(&a, c, &bad));
    assert_false(bad);
    json_decref(c);
    c = json_loads("{\"sub\":\"u\",\"act\":{\"sub\":\"b\",\"act\":{\"sub\":\"a\"}}}", 0, NULL);
    assert_string_equal(mdt_fwd_act_header(&a, c, &bad), "b,a");
    assert_false(bad);
    json_decref(c);
    /* what cannot be told apart or sent in a header */
    static const char *const refused[] = {
        "{\"act\":{\"sub\":\"a,b\"}}", "{\"act\":{\"sub\":\"a\\nX-Mandate-Subject: root\"}}",
        "{\"act\":{\"sub\":\"\"}}", "{\"act\":{}}", "{\"act\":\"a\"}", "{\"act\":{\"sub\":7}}"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        c = json_loads(refused[i], 0, NULL);
        assert_non_null(c);
        assert_null(mdt_fwd_act_header(&a, c, &bad));
        if (!bad)
            fail_msg("accepted %s", refused[i]);
        json_decref(c);
    }
    mdt_arena_free(&a);
}

static void test_challenge(void **state)
{
    mdt_arena a;
    const char *meta = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_string_equal(mdt_fwd_challenge(&a, "Bearer", NULL, NULL, meta),
                        "Bearer resource_metadata=\"https://api.example.com/.well-known/"
                        "oauth-protected-resource/mcp\"");
    assert_string_equal(mdt_fwd_challenge(&a, "Bearer", "insufficient_scope", "read write", meta),
                        "Bearer error=\"insufficient_scope\", scope=\"read write\", "
                        "resource_metadata=\"https://api.example.com/.well-known/"
                        "oauth-protected-resource/mcp\"");
    assert_string_equal(mdt_fwd_challenge(&a, "DPoP", "invalid_dpop_proof", NULL, meta),
                        "DPoP algs=\"" MDT_DPOP_ALGS_TEXT "\", error=\"invalid_dpop_proof\", "
                        "resource_metadata=\"https://api.example.com/.well-known/"
                        "oauth-protected-resource/mcp\"");
    assert_true(mdt_fwd_header_ok("read write"));
    assert_true(mdt_fwd_header_ok(""));
    assert_false(mdt_fwd_header_ok("a\r\nb"));
    assert_false(mdt_fwd_header_ok("\xc3\xa9"));
    assert_false(mdt_fwd_header_ok(NULL));
    mdt_arena_free(&a);
}

static mdt_tally tally = {.event = "t.decisions", .actor = "t", .key_name = "resource",
                          .outcomes = {"allow", "deny"}};

static void test_tally(void **state)
{
    mdt_arena a;
    mdt_ctx_events events;
    mdt_req req = {0};
    char key[300];

    (void)state;
    mdt_arena_init(&a, 8192);
    mdt_ctx_events_init(&events, &a);
    req.arena = &a;
    req.now = 600; /* minute 10 */
    mdt_ctx_init(&req.ctx, &events, NULL, req.now, "r", "127.0.0.1");
    mdt_tally_count(&tally, &req, "https://a", 0);
    mdt_tally_count(&tally, &req, "https://a", 0);
    mdt_tally_count(&tally, &req, "https://a", 1);
    mdt_tally_count(&tally, &req, "https://b", 1);
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    mdt_tally_count(&tally, &req, key, 0); /* too long: "(other)" */
    assert_int_equal(events.n, 0);         /* nothing until the minute ends */
    req.now = 665;
    mdt_tally_count(&tally, &req, "https://b", 0);
    assert_int_equal(events.n, 1);
    assert_string_equal(events.ev[0].type, "t.decisions");
    json_t *d = json_loads(events.ev[0].data, 0, NULL);
    assert_non_null(d);
    assert_int_equal(json_integer_value(json_object_get(d, "minute")), 600);
    json_t *counts = json_object_get(d, "counts");
    assert_int_equal(json_array_size(counts), 3);
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(counts, i, e) {
        const char *r = json_string_value(json_object_get(e, "resource"));
        long long allow = json_integer_value(json_object_get(e, "allow"));
        long long deny = json_integer_value(json_object_get(e, "deny"));
        if (strcmp(r, "https://a") == 0 && allow == 2 && deny == 1)
            seen |= 1;
        if (strcmp(r, "https://b") == 0 && allow == 0 && deny == 1)
            seen |= 2;
        if (strcmp(r, "(other)") == 0 && allow == 1 && deny == 0)
            seen |= 4;
    }
    assert_int_equal(seen, 7);
    json_decref(d);
    /* the same minute again: nothing more; the next with traffic: b's one allow */
    mdt_tally_count(&tally, &req, "https://c", 1);
    assert_int_equal(events.n, 1);
    req.now = 1000;
    mdt_tally_count(&tally, &req, "https://a", 0);
    assert_int_equal(events.n, 2);
    assert_non_null(strstr(events.ev[1].data, "\"minute\":660"));
    assert_non_null(strstr(events.ev[1].data, "{\"resource\":\"https://b\",\"allow\":1,\"deny\":0}"));
    assert_non_null(strstr(events.ev[1].data, "{\"resource\":\"https://c\",\"allow\":0,\"deny\":1}"));
    assert_null(strstr(events.ev[1].data, "https://a"));
    mdt_arena_free(&a);
}

static mdt_tally flat = {.event = "f.decisions", .actor = "f",
                         .outcomes = {"calls", "evaluations", "permits", "denies"}};

static void test_tally_flat(void **state)
{
    mdt_arena a;
    mdt_ctx_events events;
    mdt_req req = {0};

    (void)state;
    mdt_arena_init(&a, 8192);
    mdt_ctx_events_init(&events, &a);
    req.arena = &a;
    req.now = 120;
    mdt_ctx_init(&req.ctx, &events, NULL, req.now, "r", "127.0.0.1");
    mdt_tally_add(&flat, &req, NULL, 0, 1);
    mdt_tally_add(&flat, &req, NULL, 1, 3);
    mdt_tally_add(&flat, &req, NULL, 2, 2);
    mdt_tally_add(&flat, &req, "ignored", 3, 1);
    req.now = 200; /* a minute without traffic in between: nothing for it */
    mdt_tally_add(&flat, &req, NULL, 0, 1);
    assert_int_equal(events.n, 1);
    assert_string_equal(events.ev[0].data,
                        "{\"minute\":120,\"calls\":1,\"evaluations\":3,\"permits\":2,\"denies\":1}");
    req.now = 400;
    mdt_tally_add(&flat, &req, NULL, 1, 0);
    assert_int_equal(events.n, 2);
    assert_string_equal(events.ev[1].data,
                        "{\"minute\":180,\"calls\":1,\"evaluations\":0,\"permits\":0,\"denies\":0}");
    req.now = 460; /* minute 360 had no count: no event */
    mdt_tally_add(&flat, &req, NULL, 0, 1);
    assert_int_equal(events.n, 2);
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_ok),
        cmocka_unit_test(test_act_header),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_tally),
        cmocka_unit_test(test_tally_flat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
