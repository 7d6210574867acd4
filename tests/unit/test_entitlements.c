/* The pure parts of entitlements and access requests (src/iga/
 * entitlements.c): durations as clients write them, how long an approval
 * lasts, the union of static and dynamic entitlements at a given time, and
 * which entitlement and approval stand behind the scopes of a grant. */
#include "unit.h"

#include "core/arena.h"
#include "iga/client.h"
#include "iga/entitlements.h"
#include "iga/internal.h"

static void test_duration_parse(void **state)
{
    mdt_err err;
    int64_t d;

    (void)state;
    assert_int_equal(mdt_access_duration_parse("3600", &d, &err), MDT_OK);
    assert_int_equal(d, 3600);
    assert_int_equal(mdt_access_duration_parse("8h", &d, &err), MDT_OK);
    assert_int_equal(d, 8 * 3600);
    assert_int_equal(mdt_access_duration_parse("2s", &d, &err), MDT_OK);
    assert_int_equal(d, 2);
    assert_int_equal(mdt_access_duration_parse("30d", &d, &err), MDT_OK);
    assert_int_equal(d, 30 * 86400);
    const char *bad[] = {"", "0", "-5", "soon", "8 h", "1w", "99999999999999999999999999999999999"};
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        assert_int_equal(mdt_access_duration_parse(bad[i], &d, &err), MDT_ERR_INVALID_REQUEST);
        assert_int_equal(d, 0);
    }
    assert_int_equal(mdt_access_duration_parse(NULL, &d, &err), MDT_ERR_INVALID_REQUEST);
}

static void test_duration_grant(void **state)
{
    (void)state;
    /* asked, for, default, max */
    assert_int_equal(mdt_access_duration_grant(3600, 0, 8 * 3600, 86400), 3600);
    assert_int_equal(mdt_access_duration_grant(0, 0, 8 * 3600, 86400), 8 * 3600);
    assert_int_equal(mdt_access_duration_grant(3600, 2, 8 * 3600, 86400), 2);
    assert_int_equal(mdt_access_duration_grant(3600, 7200, 8 * 3600, 86400), 3600); /* for never lengthens */
    assert_int_equal(mdt_access_duration_grant(0, 0, 8 * 3600, 3600), 3600);       /* the cap holds */
    assert_int_equal(mdt_access_duration_grant(90000, 0, 8 * 3600, 86400), 86400);
    assert_int_equal(mdt_access_duration_grant(90000, 100000, 8 * 3600, 86400), 86400);
}

static const char *static_scopes[] = {"read", "pay:write"};
static const char *static_resources[] = {"https://api.example/"};

/* A client with two static scopes and one static resource. */
static mdt_client base(const mdt_entitlement_rec *ents, size_t n)
{
    mdt_client c = {.client_id = "c1", .status = "active"};

    c.scopes = static_scopes;
    c.nscopes = 2;
    c.resources = static_resources;
    c.nresources = 1;
    c.ents = ents;
    c.nents = n;
    return c;
}

static const mdt_entitlement_rec ents[] = {
    {.id = "ent_a", .client_id = "c1", .scope = "pay:refund", .request_id = "req_1",
     .approved_by = "olivia", .created_at = 100, .expires_at = 200},
    {.id = "ent_b", .client_id = "c1", .scope = "pay:write", .request_id = "req_2",
     .approved_by = "olivia", .created_at = 110, .expires_at = 0},                 /* static already */
    {.id = "ent_c", .client_id = "c1", .scope = "audit:read", .resource = "https://audit.example/",
     .request_id = "req_3", .approved_by = "carol", .created_at = 120, .expires_at = 300},
    {.id = "ent_d", .client_id = "c1", .scope = "pay:refund", .request_id = "req_4",
     .approved_by = "carol", .created_at = 130, .expires_at = 400},                /* a later one */
    {.id = "ent_e", .client_id = "c1", .scope = "ended", .request_id = "req_5",
     .approved_by = "carol", .created_at = 130, .expires_at = 0, .ended_at = 140},
};

static void test_merge_at_now(void **state)
{
    mdt_arena a;
    mdt_err err;
    mdt_client c;

    (void)state;
    mdt_arena_init(&a, 1024);

    c = base(ents, MDT_ARRAY_LEN(ents));
    assert_int_equal(mdt_iga__entitlements_merge(&a, &c, 150, &err), MDT_OK);
    assert_int_equal(c.nscopes, 4); /* read pay:write pay:refund audit:read */
    assert_true(mdt_client_has_scope(&c, "pay:refund"));
    assert_true(mdt_client_has_scope(&c, "audit:read"));
    assert_false(mdt_client_has_scope(&c, "ended"));
    assert_true(mdt_client_has_resource(&c, "https://audit.example/"));
    assert_true(mdt_client_has_resource(&c, "https://api.example/"));
    assert_int_equal(c.nresources, 2);
    /* the oldest live entitlement stands behind a scope; none behind a static one */
    assert_string_equal(mdt_client_scope_entitlement(&c, "pay:refund")->id, "ent_a");
    assert_null(mdt_client_scope_entitlement(&c, "pay:write"));
    assert_null(mdt_client_scope_entitlement(&c, "read"));
    assert_string_equal(mdt_client_scope_approval(&c, "read pay:refund"), "req_1");
    assert_null(mdt_client_scope_approval(&c, "read pay:write"));
    assert_null(mdt_client_scope_approval(&c, "pay:refund audit:read")); /* two approvals */
    /* a token of these scopes ends with the first entitlement behind them */
    assert_int_equal(mdt_client_scope_expiry(&c, "read pay:refund"), 200);
    assert_int_equal(mdt_client_scope_expiry(&c, "audit:read"), 300);
    assert_int_equal(mdt_client_scope_expiry(&c, "pay:refund audit:read"), 200);
    assert_int_equal(mdt_client_scope_expiry(&c, "read pay:write"), 0);

    /* at 200 ent_a has expired (the second it reaches expires_at): ent_d takes over */
    c = base(ents, MDT_ARRAY_LEN(ents));
    assert_int_equal(mdt_iga__entitlements_merge(&a, &c, 200, &err), MDT_OK);
    assert_string_equal(mdt_client_scope_entitlement(&c, "pay:refund")->id, "ent_d");
    assert_true(mdt_client_has_scope(&c, "audit:read"));

    /* at 400 every dynamic one but the static-shadowed ent_b is over */
    c = base(ents, MDT_ARRAY_LEN(ents));
    assert_int_equal(mdt_iga__entitlements_merge(&a, &c, 400, &err), MDT_OK);
    assert_int_equal(c.nscopes, 2);
    assert_int_equal(c.nresources, 1);
    assert_int_equal(c.nents, 0);
    assert_false(mdt_client_has_scope(&c, "pay:refund"));
    assert_false(mdt_client_has_resource(&c, "https://audit.example/"));

    /* no dynamic entitlements: the client is as its metadata says */
    c = base(NULL, 0);
    assert_int_equal(mdt_iga__entitlements_merge(&a, &c, 150, &err), MDT_OK);
    assert_ptr_equal(c.scopes, static_scopes);
    assert_int_equal(c.nents, 0);
    mdt_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_grant),
        cmocka_unit_test(test_merge_at_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
