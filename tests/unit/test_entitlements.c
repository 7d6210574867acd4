/* The pure parts of entitlements and access requests (src/iga/
 * entitlements.c): durations as clients write them, how long an approval
 * lasts, the union of static and dynamic entitlements at a given time, and
 * which entitlement and approval stand behind the scopes of a grant. */
#include "unit.h"

#include <jansson.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "iga/client.h"
#include "iga/entitlements.h"
#include "iga/internal.h"
#include "iga/requests.h"

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

static const mdt_entitlement_rec sample[] = {
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

    c = base(sample, MDT_ARRAY_LEN(sample));
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
    c = base(sample, MDT_ARRAY_LEN(sample));
    assert_int_equal(mdt_iga__entitlements_merge(&a, &c, 200, &err), MDT_OK);
    assert_string_equal(mdt_client_scope_entitlement(&c, "pay:refund")->id, "ent_d");
    assert_true(mdt_client_has_scope(&c, "audit:read"));

    /* at 400 every dynamic one but the static-shadowed ent_b is over */
    c = base(sample, MDT_ARRAY_LEN(sample));
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

/* --------------------------------------- the service on a real store */

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

typedef test_env fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    mdt_scope_rec sc = {.name = "pay:write", .description = "Pay", .sensitivity = "approval",
                        .created_at = T0};
    mdt_user_rec u = {.username = "olivia", .name = "", .email = "", .roles = "",
                      .status = "active", .password_hash = "x", .created_at = T0,
                      .updated_at = T0};
    mdt_client_rec c = {.client_id = "mdt_agent", .status = "active",
                        .metadata = "{\"scope\":\"read\",\"owner\":\"olivia\",\"kind\":\"agent\"}",
                        .created_at = T0, .updated_at = T0};

    assert_non_null(f);
    test_env_open(f, "mdt_ent", T0, "cli");
    f->env.cfg.access_requests_max_duration = 86400;
    f->env.cfg.access_requests_default_duration = 3600;
    f->env.cfg.access_requests_max_pending = 2;
    assert_int_equal(mdt_store_scope_insert(f->env.store, &sc, &f->err), MDT_OK);
    sc.name = "mandate:admin";
    assert_int_equal(mdt_store_scope_insert(f->env.store, &sc, &f->err), MDT_OK);
    sc.name = "read";
    sc.sensitivity = "none";
    assert_int_equal(mdt_store_scope_insert(f->env.store, &sc, &f->err), MDT_OK);
    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
    assert_int_equal(mdt_store_client_insert(f->env.store, &c, NULL, 0, &f->err), MDT_OK);
    c.client_id = "mdt_other";
    assert_int_equal(mdt_store_client_insert(f->env.store, &c, NULL, 0, &f->err), MDT_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;

    test_env_close(f);
    free(f);
    return 0;
}

static mdt_client load(fx *f, const char *id)
{
    mdt_client c;

    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    return c;
}

/* Filed, approved by the owner (for 10 minutes), given at once through the
 * cache, listed after the static ones, revoked once, then gone. */
static void test_request_approve_revoke(void **state)
{
    fx *f = *state;
    mdt_access_ask ask = {.scope = "pay:write", .justification = "payouts", .duration = 7200};
    mdt_client c = load(f, "mdt_agent");
    const char *id = NULL, *again = NULL, *json = NULL;
    mdt_entitlement_rec *ents = NULL;
    bool existing = true;
    size_t n = 0;
    int64_t seq = 0;
    json_t *doc;

    assert_false(mdt_client_has_scope(&c, "pay:write"));
    assert_int_equal(test_ctx_done(&f->tc, mdt_access_request_create(&f->env, test_ctx_now(&f->tc), &c,
                                                                     &ask, &f->a, &id, &existing,
                                                                     &f->err)),
                     MDT_OK);
    assert_false(existing);
    assert_int_equal(mdt_access_request_create(&f->env, test_ctx_now(&f->tc), &c, &ask, &f->a,
                                               &again, &existing, &f->err),
                     MDT_OK);
    assert_true(existing);
    assert_string_equal(again, id);

    f->clk.t += 5;
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), id, true,
                                                              "olivia", NULL, 600, &f->a, &json,
                                                              &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_store_entitlement_list(f->env.store, "mdt_agent", f->clk.t, &f->a, &ents,
                                                &n, &f->err),
                     MDT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ents[0].expires_at, T0 + 5 + 600); /* min(asked 2h, for 10m) */
    assert_string_equal(ents[0].approved_by, "olivia");
    assert_string_equal(ents[0].request_id, id);

    c = load(f, "mdt_agent");
    assert_true(mdt_client_has_scope(&c, "pay:write"));
    assert_string_equal(mdt_client_scope_approval(&c, "read pay:write"), id);
    c = load(f, "mdt_other");
    assert_false(mdt_client_has_scope(&c, "pay:write"));

    assert_int_equal(mdt_entitlement_list_json(&f->env, test_ctx_now(&f->tc), "mdt_agent", &f->a,
                                               &json, &f->err),
                     MDT_OK);
    doc = json_loads(json, 0, NULL);
    assert_int_equal(json_array_size(doc), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(doc, 0), "source")),
                        "static");
    assert_true(json_is_null(json_object_get(json_array_get(doc, 0), "id")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(doc, 1), "id")),
                        ents[0].id);
    json_decref(doc);

    /* revoked: another client's id and an unknown one are not found */
    assert_int_equal(mdt_entitlement_revoke(&f->env, test_ctx_now(&f->tc), "mdt_other", ents[0].id,
                                            &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_entitlement_revoke(&f->env, test_ctx_now(&f->tc), "mdt_agent", "ent_nope",
                                            &f->err),
                     MDT_ERR_NOT_FOUND);
    f->clk.t += 5;
    assert_int_equal(test_ctx_done(&f->tc, mdt_entitlement_revoke(&f->env, test_ctx_now(&f->tc),
                                                                  "mdt_agent", ents[0].id,
                                                                  &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_store_audit_find_type(f->env.store, "entitlement.revoked", &seq, &f->err),
                     MDT_OK);
    assert_true(seq > 0);
    assert_int_equal(mdt_entitlement_revoke(&f->env, test_ctx_now(&f->tc), "mdt_agent", ents[0].id,
                                            &f->err),
                     MDT_ERR_NOT_FOUND);
    c = load(f, "mdt_agent");
    assert_false(mdt_client_has_scope(&c, "pay:write"));
}

/* Refusals change nothing; at most max_pending pending requests. */
static void test_request_refusals(void **state)
{
    fx *f = *state;
    mdt_client c = load(f, "mdt_agent");
    mdt_access_ask ask = {.scope = "pay:write", .justification = "why"};
    mdt_request_rec *list = NULL;
    const char *id = NULL;
    bool existing;
    size_t n = 0;

#define REFUSED(rc)                                                                          \
    assert_int_equal(mdt_access_request_create(&f->env, test_ctx_now(&f->tc), &c, &ask, &f->a, \
                                               &id, &existing, &f->err),                     \
                     rc)
    ask.scope = "nope";
    REFUSED(MDT_ERR_INVALID_SCOPE);
    ask.scope = "";
    REFUSED(MDT_ERR_INVALID_REQUEST);
    ask.scope = "pay:write";
    ask.justification = "";
    REFUSED(MDT_ERR_INVALID_REQUEST);
    ask.justification = "tab\there";
    REFUSED(MDT_ERR_INVALID_REQUEST);
    ask.justification = "why";
    ask.duration = 86401;
    REFUSED(MDT_ERR_INVALID_REQUEST);
    ask.duration = 0;
    ask.resource = "relative/path";
    REFUSED(MDT_ERR_INVALID_TARGET);
    ask.resource = NULL;
    assert_int_equal(mdt_store_request_list(f->env.store, &f->a, &list, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);

    REFUSED(MDT_OK);
    ask.scope = "read";
    REFUSED(MDT_OK);
    ask.scope = "read pay:write";
    REFUSED(MDT_ERR_SLOW_DOWN);
    /* an unvouched self-registered client may not ask for mandate:admin */
    c.origin = "dcr";
    ask.scope = "mandate:admin";
    REFUSED(MDT_ERR_INVALID_SCOPE);
    assert_string_equal(mdt_err_public_text(&f->err),
                        "a self-registered client may not ask for mandate:admin");
    c.status = "suspended";
    ask.scope = "read";
    REFUSED(MDT_ERR_ACCESS_DENIED);
#undef REFUSED
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_grant),
        cmocka_unit_test(test_merge_at_now),
        cmocka_unit_test_setup_teardown(test_request_approve_revoke, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_refusals, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
