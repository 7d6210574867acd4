/* Approval requests dispatched on their type (src/iga/requests.c through a
 * table of hooks, iga/internal.h), and the names of the service layer's
 * enums (src/iga/names.c). Requests live in a real SQLite store in a mkdtemp
 * directory; the types are a test table whose hooks count their calls. */
#include "unit.h"

#include <jansson.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "iga/client.h"
#include "iga/internal.h"
#include "iga/names.h"
#include "iga/requests.h"
#include "iga/routing.h"
#include "store/store.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

/* What the hooks saw. */
typedef struct {
    int validated, described, approved, denied;
    int64_t for_secs;
    char last_id[64];
} calls;

static calls alpha_calls, beta_calls;
static mdt_rc alpha_verdict = MDT_OK; /* what alpha's validate answers */

static void seen(calls *c, const mdt_request_rec *r)
{
    snprintf(c->last_id, sizeof(c->last_id), "%s", r->id);
}

static mdt_rc alpha_validate(mdt_env *env, const mdt_request_rec *r, mdt_arena *a, mdt_err *err)
{
    (void)env, (void)a;
    alpha_calls.validated++;
    seen(&alpha_calls, r);
    if (alpha_verdict != MDT_OK)
        return mdt_fail(err, alpha_verdict, "no longer what was shown");
    return MDT_OK;
}

static void alpha_describe(mdt_env *env, const mdt_request_rec *r, mdt_arena *a, json_t *doc)
{
    (void)env, (void)r, (void)a;
    alpha_calls.described++;
    json_object_set_new(doc, "shown", json_string("alpha"));
}

static mdt_rc alpha_approved(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, int64_t for_secs,
                             mdt_err *err)
{
    (void)env, (void)ctx, (void)err;
    alpha_calls.approved++;
    alpha_calls.for_secs = for_secs;
    seen(&alpha_calls, r);
    return MDT_OK;
}

static mdt_rc alpha_denied(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, mdt_err *err)
{
    (void)env, (void)ctx, (void)err;
    alpha_calls.denied++;
    seen(&alpha_calls, r);
    return MDT_OK;
}

static mdt_rc beta_denied(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, mdt_err *err)
{
    (void)env, (void)ctx, (void)err;
    beta_calls.denied++;
    seen(&beta_calls, r);
    return MDT_OK;
}

static const mdt_request_type alpha = {
    .name = "alpha", .validate = alpha_validate, .describe = alpha_describe,
    .approved = alpha_approved, .denied = alpha_denied,
};
/* no approval hook, and the owner of the client may decide */
static const mdt_request_type beta = {.name = "beta", .owner_may_decide = true,
                                      .subject_may_decide = true, .denied = beta_denied};
static const mdt_request_type *const two[] = {&alpha, &beta};
static const mdt_request_types reg = {two, 2};

typedef test_env fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    test_env_open(f, "mdt_req", T0, "admin");
    memset(&alpha_calls, 0, sizeof(alpha_calls));
    memset(&beta_calls, 0, sizeof(beta_calls));
    alpha_verdict = MDT_OK;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;

    mdt_routing_free(f->env.routing);
    test_env_close(f);
    free(f);
    return 0;
}

static const char *create(fx *f, const char *type, const char *client_id)
{
    mdt_request_rec r = {.type = type, .client_id = client_id, .scope = "read"};
    const char *id = NULL;

    assert_int_equal(
        test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env, test_ctx_now(&f->tc), &r,
                                                         &f->a, &id, &f->err)),
        MDT_OK);
    assert_non_null(id);
    return id;
}

static const char *status_of(fx *f, const char *id)
{
    mdt_request_rec r;

    assert_int_equal(mdt_store_request_get(f->env.store, id, &f->a, &r, &f->err), MDT_OK);
    return r.status;
}

static mdt_rc decide(fx *f, const char *id, bool approve, const char *by, int64_t for_secs)
{
    const char *json = NULL;

    return test_ctx_done(&f->tc, mdt_iga__request_decide_in(&reg, &f->env, test_ctx_now(&f->tc), id,
                                                            approve, by, NULL, for_secs, &f->a,
                                                            &json, &f->err));
}

static size_t stored_requests(fx *f)
{
    mdt_request_rec *list = NULL;
    size_t n = 0;

    assert_int_equal(mdt_store_request_list(f->env.store, &f->a, &list, &n, &f->err), MDT_OK);
    return n;
}

static void test_unknown_type_refused_on_create(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.type = "gamma", .client_id = "mdt_x"};
    mdt_request_rec none = {.client_id = "mdt_x"};
    const char *id = "unset";

    assert_int_equal(
        mdt_iga__request_create_in(&reg, &f->env, test_ctx_now(&f->tc), &r, &f->a, &id, &f->err),
        MDT_ERR_INVALID_REQUEST);
    assert_null(id);
    assert_string_equal(mdt_err_public_text(&f->err), "unknown request type");
    assert_int_equal(
        mdt_iga__request_create_in(&reg, &f->env, test_ctx_now(&f->tc), &none, &f->a, &id, &f->err),
        MDT_ERR_INVALID_REQUEST);
    /* the server's own table knows registrations only */
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_create(&f->env, test_ctx_now(&f->tc), &r,
                                                              &f->a, &id, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(stored_requests(f), 0);
}

static void test_unknown_type_refused_on_decide(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.id = "req_gamma", .type = "gamma", .status = "pending",
                         .client_id = "mdt_x", .created_at = T0, .expires_at = T0 + 100};
    const char *json;

    assert_int_equal(mdt_store_request_insert(f->env.store, &r, &f->err), MDT_OK);
    assert_int_equal(decide(f, "req_gamma", true, NULL, 0), MDT_ERR_CONFLICT);
    assert_int_equal(decide(f, "req_gamma", false, NULL, 0), MDT_ERR_CONFLICT);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), "req_gamma", true,
                                                 NULL, NULL, 0, &f->a, &json, &f->err)),
        MDT_ERR_CONFLICT);
    assert_string_equal(status_of(f, "req_gamma"), "pending"); /* nothing recorded */
    assert_int_equal(alpha_calls.approved + alpha_calls.denied + beta_calls.denied, 0);
    assert_int_equal(decide(f, "req_nope", true, NULL, 0), MDT_ERR_NOT_FOUND);
}

static void test_approve_reaches_its_hook(void **state)
{
    fx *f = *state;
    const char *id = create(f, "alpha", "mdt_a");

    assert_int_equal(decide(f, id, true, NULL, 3600), MDT_OK);
    assert_int_equal(alpha_calls.validated, 1);
    assert_int_equal(alpha_calls.approved, 1);
    assert_int_equal(alpha_calls.denied, 0);
    assert_int_equal(alpha_calls.for_secs, 3600);
    assert_string_equal(alpha_calls.last_id, id);
    assert_int_equal(beta_calls.denied, 0);
    assert_string_equal(status_of(f, id), "approved");
}

static void test_deny_reaches_its_hook(void **state)
{
    fx *f = *state;
    const char *a_id = create(f, "alpha", "mdt_a"), *b_id = create(f, "beta", "mdt_b");

    assert_int_equal(decide(f, b_id, false, NULL, 0), MDT_OK);
    assert_int_equal(beta_calls.denied, 1);
    assert_string_equal(beta_calls.last_id, b_id);
    assert_int_equal(alpha_calls.approved + alpha_calls.denied + alpha_calls.validated, 0);
    assert_string_equal(status_of(f, b_id), "denied");

    assert_int_equal(decide(f, a_id, false, NULL, 0), MDT_OK);
    assert_int_equal(alpha_calls.denied, 1);
    assert_int_equal(alpha_calls.validated, 0); /* only an approval is validated */
    assert_int_equal(alpha_calls.approved, 0);
    assert_string_equal(alpha_calls.last_id, a_id);
    assert_int_equal(beta_calls.denied, 1);
}

static void test_missing_hook_is_nothing_to_do(void **state)
{
    fx *f = *state;
    const char *id = create(f, "beta", "mdt_b");

    assert_int_equal(decide(f, id, true, NULL, 0), MDT_OK);
    assert_string_equal(status_of(f, id), "approved");
    assert_int_equal(beta_calls.denied, 0);
}

static void test_validate_refusal_records_nothing(void **state)
{
    fx *f = *state;
    const char *id = create(f, "alpha", "mdt_a");

    alpha_verdict = MDT_ERR_CONFLICT;
    assert_int_equal(decide(f, id, true, NULL, 0), MDT_ERR_CONFLICT);
    assert_string_equal(mdt_err_public_text(&f->err), "no longer what was shown");
    assert_int_equal(alpha_calls.validated, 1);
    assert_int_equal(alpha_calls.approved, 0);
    assert_string_equal(status_of(f, id), "pending");
}

static void test_decided_cannot_be_decided_again(void **state)
{
    fx *f = *state;
    const char *id = create(f, "alpha", "mdt_a"), *late = create(f, "alpha", "mdt_a");

    assert_int_equal(decide(f, id, true, NULL, 0), MDT_OK);
    assert_int_equal(decide(f, id, true, NULL, 0), MDT_ERR_CONFLICT);
    assert_string_equal(mdt_err_public_text(&f->err), "the request is no longer pending");
    assert_int_equal(decide(f, id, false, NULL, 0), MDT_ERR_CONFLICT);
    assert_int_equal(alpha_calls.approved, 1);
    assert_int_equal(alpha_calls.denied, 0);
    assert_string_equal(status_of(f, id), "approved");

    /* an expired request is not decided either, and its hooks are not run */
    f->clk.t += MDT_REQUEST_TTL;
    assert_int_equal(decide(f, late, false, NULL, 0), MDT_ERR_CONFLICT);
    assert_int_equal(decide(f, late, true, NULL, 0), MDT_ERR_CONFLICT);
    assert_int_equal(alpha_calls.approved, 1);
    assert_int_equal(alpha_calls.denied, 0);
}

static void test_describe_pending_only(void **state)
{
    fx *f = *state;
    const char *pending = create(f, "alpha", "mdt_a"), *done = create(f, "alpha", "mdt_a"), *json;
    json_t *arr, *x;
    size_t i;
    int shown = 0;

    assert_int_equal(decide(f, done, false, NULL, 0), MDT_OK);
    assert_int_equal(
        mdt_iga__request_list_in(&reg, &f->env, test_ctx_now(&f->tc), NULL, NULL, &f->a, &json,
                                 &f->err),
        MDT_OK);
    arr = json_loads(json, 0, NULL);
    assert_int_equal(json_array_size(arr), 2);
    json_array_foreach(arr, i, x) {
        bool is_pending = mdt_str_eq(json_string_value(json_object_get(x, "id")), pending);
        assert_int_equal(json_object_get(x, "shown") != NULL, is_pending);
        shown += is_pending;
    }
    json_decref(arr);
    assert_int_equal(shown, 1);
    assert_int_equal(alpha_calls.described, 1);
}

/* The list of one client's requests, of one status or all. */
static void test_list_of_client(void **state)
{
    fx *f = *state;
    const char *a1, *b1, *a2, *json;

    a1 = create(f, "alpha", "mdt_a"); /* one second apart: the list is oldest first */
    f->clk.t++;
    b1 = create(f, "alpha", "mdt_b");
    f->clk.t++;
    a2 = create(f, "alpha", "mdt_a");
    const char *want[][3] = {{"mdt_a", "pending", a2}, {"mdt_a", NULL, a1}, {"mdt_b", NULL, b1},
                             {"mdt_c", NULL, NULL}};
    const size_t count[] = {1, 2, 1, 0};

    assert_int_equal(decide(f, a1, false, NULL, 0), MDT_OK);
    for (size_t k = 0; k < 4; k++) {
        json_t *arr, *x;
        size_t i;

        assert_int_equal(mdt_iga__request_list_in(&reg, &f->env, test_ctx_now(&f->tc), want[k][0],
                                                  want[k][1], &f->a, &json, &f->err),
                         MDT_OK);
        arr = json_loads(json, 0, NULL);
        assert_int_equal(json_array_size(arr), count[k]);
        json_array_foreach(arr, i, x)
            assert_string_equal(json_string_value(json_object_get(x, "client_id")), want[k][0]);
        if (count[k])
            assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "id")),
                                want[k][2]);
        json_decref(arr);
    }
}

static void test_owner_may_decide_per_type(void **state)
{
    fx *f = *state;
    mdt_user_rec u = {.username = "olivia", .name = "", .email = "", .roles = "",
                      .status = "active", .password_hash = "x", .created_at = T0,
                      .updated_at = T0};
    const char *meta = "{\"owner\":\"olivia\"}", *doc, *client_id, *a_id, *b_id;
    json_t *d;

    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_create(&f->env, test_ctx_now(&f->tc), meta,
                                                             strlen(meta), &f->a, &doc, &f->err)),
                     MDT_OK);
    d = json_loads(doc, 0, NULL);
    client_id = mdt_arena_strdup(&f->a, json_string_value(json_object_get(d, "client_id")));
    json_decref(d);
    a_id = create(f, "alpha", client_id);
    b_id = create(f, "beta", client_id);

    assert_int_equal(decide(f, a_id, true, "olivia", 0), MDT_ERR_ACCESS_DENIED);
    assert_string_equal(status_of(f, a_id), "pending");
    assert_int_equal(alpha_calls.validated + alpha_calls.approved, 0);
    assert_int_equal(decide(f, b_id, false, "olivia", 0), MDT_OK);
    assert_int_equal(beta_calls.denied, 1);
    assert_int_equal(decide(f, a_id, true, "nobody", 0), MDT_ERR_ACCESS_DENIED);
}

/* A device authorization (RFC 8628) asks the person who entered its code:
 * that person decides it without a role; someone else without one cannot;
 * reaching the final status is audited as device.approved or device.denied. */
static void test_device_subject_decides(void **state)
{
    fx *f = *state;
    mdt_user_rec u = {.name = "", .email = "", .roles = "", .status = "active",
                      .password_hash = "x", .created_at = T0, .updated_at = T0};
    mdt_request_rec r = {.type = MDT_REQUEST_TYPE_DEVICE, .client_id = "mdt_dev",
                         .subject = "dora", .scope = "read"};
    const char *id = NULL, *id2 = NULL, *json;
    int64_t seq = 0;

    u.username = "dora";
    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
    u.username = "eve";
    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_create(&f->env, test_ctx_now(&f->tc), &r,
                                                              &f->a, &id, &f->err)),
                     MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_create(&f->env, test_ctx_now(&f->tc), &r,
                                                              &f->a, &id2, &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_request_decide(&f->env, test_ctx_now(&f->tc), id, true, "eve", NULL, 0,
                                        &f->a, &json, &f->err),
                     MDT_ERR_ACCESS_DENIED);
    assert_string_equal(status_of(f, id), "pending");
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), id,
                                                              true, "dora", NULL, 0, &f->a, &json,
                                                              &f->err)),
                     MDT_OK);
    assert_string_equal(status_of(f, id), "approved");
    assert_int_equal(mdt_store_audit_find_type(f->env.store, "device.approved", &seq, &f->err),
                     MDT_OK);
    assert_true(seq > 0);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), id2,
                                                              false, "dora", NULL, 0, &f->a, &json,
                                                              &f->err)),
                     MDT_OK);
    seq = 0;
    assert_int_equal(mdt_store_audit_find_type(f->env.store, "device.denied", &seq, &f->err),
                     MDT_OK);
    assert_true(seq > 0);
}

/* --- routing, quorum and expiry --- */

static void add_user(fx *f, const char *name, const char *roles)
{
    mdt_user_rec u = {.username = name, .name = "", .email = "", .roles = roles,
                      .status = "active", .password_hash = "x", .created_at = T0,
                      .updated_at = T0};

    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
}

static void add_user_status(fx *f, const char *name, const char *roles, const char *status)
{
    mdt_user_rec u = {.username = name, .name = "", .email = "", .roles = roles,
                      .status = status, .password_hash = "x", .created_at = T0,
                      .updated_at = T0};

    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
}

static const char *owned_client(fx *f, const char *owner)
{
    const char *doc, *id;
    char meta[128];
    json_t *d;

    snprintf(meta, sizeof(meta), "{\"owner\":\"%s\"}", owner);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_create(&f->env, test_ctx_now(&f->tc), meta,
                                                             strlen(meta), &f->a, &doc, &f->err)),
                     MDT_OK);
    d = json_loads(doc, 0, NULL);
    id = mdt_arena_strdup(&f->a, json_string_value(json_object_get(d, "client_id")));
    json_decref(d);
    return id;
}

static void route_with(fx *f, const char *rules)
{
    char path[128];
    FILE *out;

    snprintf(path, sizeof(path), "%s/routing.json", f->dir);
    assert_non_null(out = fopen(path, "w"));
    fputs(rules, out);
    fclose(out);
    mdt_routing_free(f->env.routing);
    f->env.routing = NULL;
    assert_int_equal(mdt_routing_load(path, &f->env.routing, &f->err), MDT_OK);
}

static bool may(fx *f, const char *user, const char *id)
{
    mdt_request_rec r;

    assert_int_equal(mdt_store_request_get(f->env.store, id, &f->a, &r, &f->err), MDT_OK);
    return mdt_iga__request_may_decide_in(&reg, &f->env, test_ctx_now(&f->tc), user, &r);
}

/* Two distinct approvers, none twice, not the client's owner; the hook runs
 * once, at the final decision. */
static void test_quorum(void **state)
{
    fx *f = *state;
    const char *client, *id, *denied;

    add_user(f, "ann", "approver");
    add_user(f, "bob", "admin");
    add_user(f, "olivia", "approver");
    add_user(f, "pat", "");
    client = owned_client(f, "olivia");
    route_with(f, "[{\"type\": \"alpha\", \"approve\": \"quorum\", \"n\": 2}]");
    id = create(f, "alpha", client);
    assert_true(may(f, "ann", id));
    assert_false(may(f, "olivia", id)); /* owns the client */
    assert_false(may(f, "pat", id));    /* no approver */
    assert_false(may(f, "nobody", id));
    assert_int_equal(decide(f, id, true, "ann", 0), MDT_OK);
    assert_string_equal(status_of(f, id), "pending");
    assert_int_equal(alpha_calls.approved, 0);
    assert_false(may(f, "ann", id)); /* voted */
    assert_int_equal(decide(f, id, true, "ann", 0), MDT_ERR_CONFLICT);
    assert_int_equal(decide(f, id, true, "olivia", 0), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(decide(f, id, false, "olivia", 0), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(decide(f, id, true, "pat", 0), MDT_ERR_ACCESS_DENIED);
    assert_string_equal(status_of(f, id), "pending");
    assert_int_equal(decide(f, id, true, "bob", 60), MDT_OK);
    assert_string_equal(status_of(f, id), "approved");
    assert_int_equal(alpha_calls.approved, 1);
    assert_int_equal(alpha_calls.for_secs, 60);
    assert_false(may(f, "bob", id));
    /* one deny is final */
    denied = create(f, "alpha", client);
    assert_int_equal(decide(f, denied, true, "ann", 0), MDT_OK);
    assert_int_equal(decide(f, denied, false, "bob", 0), MDT_OK);
    assert_string_equal(status_of(f, denied), "denied");
    assert_int_equal(alpha_calls.denied, 1);
}

/* user and owner rules name one person, where the type trusts that person
 * to decide (else the approvers decide); approver: any approver or admin. */
static void test_route_names_who(void **state)
{
    fx *f = *state;
    const char *client, *asks_pat, *owners, *untrusted_owner, *untrusted_user, *approvers;
    mdt_request_rec r = {.type = "beta", .subject = "pat", .scope = "read"};

    add_user(f, "ann", "approver");
    add_user(f, "olivia", "");
    add_user(f, "pat", "");
    client = owned_client(f, "olivia");
    route_with(f, "[{\"scope\": \"read\", \"approve\": \"user\"},"
                  " {\"scope\": \"write\", \"approve\": \"approver\"},"
                  " {\"approve\": \"owner\"}]");
    r.client_id = client;
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &asks_pat, &f->err)),
                     MDT_OK);
    r.scope = "other";
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &owners, &f->err)),
                     MDT_OK);
    assert_false(may(f, "ann", asks_pat));
    assert_false(may(f, "olivia", asks_pat)); /* beta lets owners decide, but the rule says user */
    assert_true(may(f, "pat", asks_pat));
    /* beta's subject decides first (their consent), the owner after them */
    assert_false(may(f, "ann", owners));
    assert_true(may(f, "pat", owners));
    assert_false(may(f, "olivia", owners));
    assert_int_equal(decide(f, owners, false, "olivia", 0), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(decide(f, owners, true, "pat", 0), MDT_OK);
    assert_string_equal(status_of(f, owners), "pending");
    assert_false(may(f, "pat", owners)); /* decided already */
    assert_true(may(f, "olivia", owners));
    assert_int_equal(decide(f, owners, true, "ann", 0), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(decide(f, owners, false, "olivia", 0), MDT_OK);
    assert_string_equal(status_of(f, owners), "denied");
    /* alpha trusts neither its client's owner nor the person asked: approvers decide */
    r.type = "alpha";
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &untrusted_owner,
                                                                      &f->err)),
                     MDT_OK);
    r.scope = "read";
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &untrusted_user,
                                                                      &f->err)),
                     MDT_OK);
    assert_false(may(f, "olivia", untrusted_owner));
    assert_true(may(f, "ann", untrusted_owner));
    assert_int_equal(decide(f, untrusted_owner, true, "olivia", 0), MDT_ERR_ACCESS_DENIED);
    assert_false(may(f, "pat", untrusted_user));
    assert_true(may(f, "ann", untrusted_user));
    r.scope = "read write";
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &approvers, &f->err)),
                     MDT_OK);
    assert_true(may(f, "ann", approvers)); /* read matches first: user, untrusted: approvers */
    r.scope = "write";
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &approvers, &f->err)),
                     MDT_OK);
    assert_false(may(f, "olivia", approvers));
    assert_true(may(f, "ann", approvers));
}

/* A decision with no person behind it (a service client of the admin API):
 * it may deny anything, but never approve a request that asks a person nor
 * one the routing gives to an owner, a user or a quorum. */
static void test_decide_unattended(void **state)
{
    fx *f = *state;
    mdt_request_rec dev = {.type = MDT_REQUEST_TYPE_DEVICE, .client_id = "mdt_dev",
                           .subject = "dora", .scope = "read"};
    mdt_request_rec reg_owner = {.type = "registration", .client_id = "mdt_reg", .scope = "read"};
    mdt_request_rec reg_quorum = {.type = "registration", .client_id = "mdt_reg", .scope = "write"};
    const char *asks_dora = NULL, *owners = NULL, *quorum = NULL, *json = NULL;
    mdt_ctx as_client;

    add_user(f, "dora", "");
    route_with(f, "[{\"type\": \"registration\", \"scope\": \"read\", \"approve\": \"owner\"},"
                  " {\"type\": \"registration\", \"approve\": \"quorum\", \"n\": 2}]");
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_create(&f->env, test_ctx_now(&f->tc), &dev,
                                                              &f->a, &asks_dora, &f->err)),
                     MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_create(&f->env, test_ctx_now(&f->tc),
                                                              &reg_owner, &f->a, &owners, &f->err)),
                     MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_create(&f->env, test_ctx_now(&f->tc),
                                                              &reg_quorum, &f->a, &quorum, &f->err)),
                     MDT_OK);
    as_client = mdt_ctx_as(test_ctx_now(&f->tc), "client:mdt_ops");
    for (int i = 0; i < 2; i++) {
        const char *id = i == 0 ? asks_dora : quorum;
        assert_int_equal(mdt_request_decide_unattended(&f->env, &as_client, id, true, NULL, 0,
                                                       &f->a, &json, &f->err),
                         MDT_ERR_ACCESS_DENIED);
        assert_null(json);
        assert_string_equal(status_of(f, id), "pending");
    }
    /* an owner rule for a type whose owners may not decide falls back to approvers: allowed */
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide_unattended(&f->env, &as_client,
                                                                         owners, true, NULL, 0,
                                                                         &f->a, &json, &f->err)),
                     MDT_OK);
    assert_string_equal(status_of(f, owners), "approved");
    assert_int_equal(mdt_request_decide_unattended(&f->env, &as_client, "req_none", true, NULL, 0,
                                                   &f->a, &json, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide_unattended(&f->env, &as_client,
                                                                         asks_dora, false, "no",
                                                                         0, &f->a, &json, &f->err)),
                     MDT_OK);
    assert_string_equal(status_of(f, asks_dora), "denied");
    assert_non_null(strstr(json, "\"decided_by\":\"client:mdt_ops\""));
}

/* A rule's expires_in caps the wait; a flow that asks for less keeps it. */
static void test_route_expiry(void **state)
{
    fx *f = *state;
    mdt_request_rec r = {.type = "alpha", .client_id = "mdt_a", .scope = "read"}, back;
    const char *id;

    route_with(f, "[{\"type\": \"alpha\", \"approve\": \"approver\", \"expires_in\": \"10m\"}]");
    id = create(f, "alpha", "mdt_a");
    assert_int_equal(mdt_store_request_get(f->env.store, id, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.expires_at, T0 + 600);
    r.expires_at = T0 + 60;
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &id, &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_store_request_get(f->env.store, id, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.expires_at, T0 + 60);
    r.expires_at = T0 + 6000; /* longer than the rule allows */
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_create_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &r,
                                                                      &f->a, &id, &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_store_request_get(f->env.store, id, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.expires_at, T0 + 600);
}

/* Expired requests are closed once, as denied (the denied hook runs). */
static void test_expire_due(void **state)
{
    fx *f = *state;
    const char *id = create(f, "alpha", "mdt_a"), *later;
    size_t closed = 0;

    f->clk.t += 100;
    later = create(f, "beta", "mdt_a");
    f->clk.t = T0 + MDT_REQUEST_TTL; /* the first is due, the second not yet */
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_expire_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &f->a,
                                                                      &closed, &f->err)),
                     MDT_OK);
    assert_int_equal(closed, 1);
    assert_int_equal(alpha_calls.denied, 1);
    assert_string_equal(alpha_calls.last_id, id);
    assert_string_equal(status_of(f, id), "expired");
    assert_string_equal(status_of(f, later), "pending");
    assert_int_equal(test_ctx_done(&f->tc, mdt_iga__request_expire_in(&reg, &f->env,
                                                                      test_ctx_now(&f->tc), &f->a,
                                                                      &closed, &f->err)),
                     MDT_OK);
    assert_int_equal(closed, 0);
    assert_int_equal(alpha_calls.denied, 1);
    assert_int_equal(decide(f, id, true, NULL, 0), MDT_ERR_CONFLICT);
}

static void add_request(fx *f, const char *id, const char *type, const char *subject,
                        const char *status, int64_t expires_at)
{
    mdt_request_rec r = {.id = id, .type = type, .status = status, .client_id = "mdt_x",
                         .subject = subject, .scope = "openid", .created_at = T0,
                         .expires_at = expires_at};

    assert_int_equal(mdt_store_request_insert(f->env.store, &r, &f->err), MDT_OK);
}

/* The ids mdt_request_list_for gives user, space-separated, in order. */
static const char *listed_for(fx *f, const char *user)
{
    mdt_request_item *items = NULL;
    size_t n = 9;
    const char *out = "";

    assert_int_equal(test_ctx_done(&f->tc, mdt_request_list_for(&f->env, test_ctx_now(&f->tc), user,
                                                                &f->a, &items, &n, &f->err)),
                     MDT_OK);
    for (size_t i = 0; i < n; i++)
        out = mdt_arena_printf(&f->a, "%s%s%s", out, i ? " " : "", items[i].rec.id);
    return out;
}

/* The inbox: pending requests only, by the rule of the decision: the
 * subject of a CIBA request (theirs alone by default), approvers and
 * admins the other types. */
static void test_list_for(void **state)
{
    fx *f = *state;
    const char *json;

    add_user_status(f, "alice", "", "active");
    add_user_status(f, "bob", "", "active");
    add_user_status(f, "carol", "approver", "active");
    add_user_status(f, "dora", "", "disabled");
    add_request(f, "req_1", "ciba", "alice", "pending", T0 + 100);
    add_request(f, "req_2", "ciba", "bob", "pending", T0 + 100);
    add_request(f, "req_3", "ciba", "alice", "pending", T0 - 1);   /* expired */
    add_request(f, "req_4", "ciba", "alice", "denied", T0 + 100);  /* decided */
    add_request(f, "req_5", "registration", NULL, "pending", T0 + 100);
    add_request(f, "req_6", "gamma", "alice", "pending", T0 + 100); /* no row */
    add_request(f, "req_7", "ciba", "dora", "pending", T0 + 100);
    assert_string_equal(listed_for(f, "alice"), "req_1");
    assert_string_equal(listed_for(f, "bob"), "req_2");
    assert_string_equal(listed_for(f, "carol"), "req_5");
    assert_string_equal(listed_for(f, "dora"), "");
    assert_string_equal(listed_for(f, "nobody"), "");
    /* what is listed is what may be decided, and the other way round */
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), "req_2",
                                                              true, "alice", NULL, 0, &f->a, &json,
                                                              &f->err)),
                     MDT_ERR_ACCESS_DENIED);
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), "req_1",
                                                              true, "alice", "fine", 0, &f->a, &json,
                                                              &f->err)),
                     MDT_OK);
    assert_string_equal(listed_for(f, "alice"), "");
    assert_string_equal(listed_for(f, "carol"), "req_5");
}

static void test_server_table(void **state)
{
    const mdt_request_type *t = mdt_iga__request_type_find(&mdt_iga__request_types,
                                                           "registration");

    (void)state;
    assert_non_null(t);
    assert_ptr_equal(t, &mdt_iga__request_registration);
    assert_false(t->owner_may_decide);
    assert_non_null(t->validate);
    assert_non_null(t->describe);
    assert_non_null(t->approved);
    assert_non_null(t->denied);
    assert_null(mdt_iga__request_type_find(&mdt_iga__request_types, "Registration"));
    t = mdt_iga__request_type_find(&mdt_iga__request_types, MDT_REQUEST_TYPE_DEVICE);
    assert_ptr_equal(t, &mdt_iga__request_device);
    assert_true(t->subject_may_decide);
    assert_false(t->owner_may_decide);
    t = mdt_iga__request_type_find(&mdt_iga__request_types, "ciba");
    assert_ptr_equal(t, &mdt_iga__request_ciba);
    assert_true(t->subject_may_decide); /* the person a CIBA request asks */
    assert_false(t->owner_may_decide);
    assert_null(mdt_iga__request_type_find(&mdt_iga__request_types, "Device"));
    assert_null(mdt_iga__request_type_find(&mdt_iga__request_types, NULL));
    assert_null(mdt_iga__request_type_find(NULL, "registration"));
    assert_ptr_equal(mdt_iga__request_type_find(&reg, "beta"), &beta);
}

/* --- names of the enums: both ways, exactly the stored strings --- */

#define ROUND_TRIP(prefix, value, text)                                                           \
    do {                                                                                          \
        assert_string_equal(prefix##_name(value), text);                                          \
        assert_int_equal(prefix##_from_name(text), value);                                        \
    } while (0)

/* Unknown strings, case variants, NULL and out-of-range values. */
#define UNKNOWNS(prefix, unknown, known, last)                                                    \
    do {                                                                                          \
        assert_int_equal(prefix##_from_name(NULL), unknown);                                      \
        assert_int_equal(prefix##_from_name(""), unknown);                                        \
        assert_int_equal(prefix##_from_name("bogus"), unknown);                                   \
        assert_int_equal(prefix##_from_name(known " "), unknown);                                 \
        assert_null(prefix##_name(unknown));                                                      \
        assert_null(prefix##_name(last + 1));                                                     \
        assert_null(prefix##_name(-1));                                                           \
    } while (0)

static void test_client_status_names(void **state)
{
    (void)state;
    ROUND_TRIP(mdt_client_status, MDT_CLIENT_ACTIVE, "active");
    ROUND_TRIP(mdt_client_status, MDT_CLIENT_PENDING, "pending");
    ROUND_TRIP(mdt_client_status, MDT_CLIENT_SUSPENDED, "suspended");
    ROUND_TRIP(mdt_client_status, MDT_CLIENT_EXPIRED, "expired");
    UNKNOWNS(mdt_client_status, MDT_CLIENT_STATUS_UNKNOWN, "active", MDT_CLIENT_EXPIRED);
    assert_int_equal(mdt_client_status_from_name("Active"), MDT_CLIENT_STATUS_UNKNOWN);
    assert_int_equal(mdt_client_status_from_name("deleted"), MDT_CLIENT_STATUS_UNKNOWN);
}

static void test_client_kind_names(void **state)
{
    (void)state;
    ROUND_TRIP(mdt_client_kind, MDT_CLIENT_KIND_AGENT, "agent");
    ROUND_TRIP(mdt_client_kind, MDT_CLIENT_KIND_SERVICE, "service");
    ROUND_TRIP(mdt_client_kind, MDT_CLIENT_KIND_WEB, "web");
    ROUND_TRIP(mdt_client_kind, MDT_CLIENT_KIND_NATIVE, "native");
    ROUND_TRIP(mdt_client_kind, MDT_CLIENT_KIND_CLI, "cli");
    UNKNOWNS(mdt_client_kind, MDT_CLIENT_KIND_UNKNOWN, "agent", MDT_CLIENT_KIND_CLI);
    /* every kind metadata validation accepts has a name, and no other */
    for (int k = MDT_CLIENT_KIND_AGENT; k <= MDT_CLIENT_KIND_CLI; k++)
        assert_true(mdt_client_kind_known(mdt_client_kind_name((mdt_client_kind)k)));
    assert_false(mdt_client_kind_known("robot"));
}

static void test_cred_type_names(void **state)
{
    (void)state;
    ROUND_TRIP(mdt_cred_type, MDT_CRED_SECRET, "secret");
    ROUND_TRIP(mdt_cred_type, MDT_CRED_API_KEY, "api_key");
    ROUND_TRIP(mdt_cred_type, MDT_CRED_JWK, "jwk");
    ROUND_TRIP(mdt_cred_type, MDT_CRED_CERTIFICATE, "certificate");
    ROUND_TRIP(mdt_cred_type, MDT_CRED_WORKLOAD, "workload");
    ROUND_TRIP(mdt_cred_type, MDT_CRED_REGISTRATION, "registration");
    UNKNOWNS(mdt_cred_type, MDT_CRED_TYPE_UNKNOWN, "secret", MDT_CRED_REGISTRATION);
    assert_int_equal(mdt_cred_type_from_name("apikey"), MDT_CRED_TYPE_UNKNOWN);
}

static void test_request_state_names(void **state)
{
    mdt_request_rec r = {.status = "pending", .expires_at = T0 + 10};

    (void)state;
    ROUND_TRIP(mdt_request_state, MDT_REQUEST_PENDING, "pending");
    ROUND_TRIP(mdt_request_state, MDT_REQUEST_APPROVED, "approved");
    ROUND_TRIP(mdt_request_state, MDT_REQUEST_DENIED, "denied");
    ROUND_TRIP(mdt_request_state, MDT_REQUEST_EXPIRED, "expired");
    UNKNOWNS(mdt_request_state, MDT_REQUEST_STATUS_UNKNOWN, "pending", MDT_REQUEST_EXPIRED);
    /* "expired" is derived from a pending request's expires_at */
    assert_string_equal(mdt_request_status(&r, T0 + 9), "pending");
    assert_string_equal(mdt_request_status(&r, T0 + 10), "expired");
    r.status = "approved";
    assert_string_equal(mdt_request_status(&r, T0 + 10), "approved");
    r.status = "odd";
    assert_string_equal(mdt_request_status(&r, T0 + 10), "odd"); /* shown as stored */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_quorum),
        T(test_route_names_who),
        T(test_decide_unattended),
        T(test_route_expiry),
        T(test_expire_due),
        T(test_unknown_type_refused_on_create),
        T(test_unknown_type_refused_on_decide),
        T(test_approve_reaches_its_hook),
        T(test_deny_reaches_its_hook),
        T(test_missing_hook_is_nothing_to_do),
        T(test_validate_refusal_records_nothing),
        T(test_decided_cannot_be_decided_again),
        T(test_list_of_client),
        T(test_describe_pending_only),
        T(test_owner_may_decide_per_type),
        T(test_device_subject_decides),
        T(test_list_for),
        cmocka_unit_test(test_server_table),
        cmocka_unit_test(test_client_status_names),
        cmocka_unit_test(test_client_kind_names),
        cmocka_unit_test(test_cred_type_names),
        cmocka_unit_test(test_request_state_names),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
