/* The request context (app/ctx.h): events are copied into the context,
 * the outcome's event takes the request id and address, a context acting
 * as another actor shares the one list, and a service records its events
 * in the context instead of appending them: they reach the audit log once,
 * when the context is committed. */
#include "unit.h"

#include <stdio.h>

#include "app/ctx.h"
#include "app/env.h"
#include "audit/audit.h"
#include "iga/scope.h"
#include "store/store.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

static void test_events_copied_in_order(void **state)
{
    mdt_arena a;
    mdt_ctx_events l;
    mdt_ctx ctx, as;
    mdt_err err = {0};
    char reason[16] = "first";

    (void)state;
    mdt_arena_init(&a, 1024);
    mdt_ctx_events_init(&l, &a);
    mdt_ctx_init(&ctx, &l, "alice", T0, "req-1", "192.0.2.7");
    assert_string_equal(mdt_ctx_actor(&ctx), "alice");
    assert_int_equal(mdt_ctx_audit(&ctx, &(mdt_audit_event){.type = "a.one", .reason = reason},
                                   &err),
                     MDT_OK);
    snprintf(reason, sizeof(reason), "changed");
    assert_string_equal(l.ev[0].reason, "first"); /* a copy, not the caller's buffer */
    assert_null(l.ev[0].request_id);              /* as given */
    assert_int_equal(
        mdt_ctx_audit_outcome(&ctx, &(mdt_audit_event){.type = "a.two", .ip = "198.51.100.1"},
                              &err),
        MDT_OK);
    assert_string_equal(l.ev[1].request_id, "req-1");
    assert_string_equal(l.ev[1].ip, "198.51.100.1"); /* given: kept */
    /* another actor, the same request: the same list */
    as = mdt_ctx_as(&ctx, "registration");
    assert_string_equal(mdt_ctx_actor(&as), "registration");
    assert_int_equal(as.now, T0);
    assert_int_equal(mdt_ctx_audit(&as, &(mdt_audit_event){.type = "a.three"}, &err), MDT_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.ev[2].type, "a.three");
    assert_string_equal(mdt_ctx_actor(&ctx), "alice");
    /* no type: refused, nothing added */
    assert_int_equal(mdt_ctx_audit(&ctx, &(mdt_audit_event){.actor = "x"}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(l.n, 3);
    mdt_ctx_drop_events(&ctx);
    assert_int_equal(l.n, 0);
    mdt_arena_free(&a);
}

static void test_events_bounded(void **state)
{
    mdt_arena a;
    mdt_ctx_events l;
    mdt_ctx ctx;
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 1024);
    mdt_ctx_events_init(&l, &a);
    mdt_ctx_init(&ctx, &l, NULL, T0, NULL, NULL);
    assert_string_equal(mdt_ctx_actor(&ctx), "system");
    for (int i = 0; i < MDT_CTX_EVENTS_MAX; i++)
        assert_int_equal(mdt_ctx_audit(&ctx, &(mdt_audit_event){.type = "t"}, &err), MDT_OK);
    assert_int_equal(mdt_ctx_audit(&ctx, &(mdt_audit_event){.type = "t"}, &err),
                     MDT_ERR_INTERNAL);
    assert_int_equal(l.n, MDT_CTX_EVENTS_MAX);
    /* a context without a list records nothing and says so */
    mdt_ctx_init(&ctx, NULL, NULL, T0, NULL, NULL);
    assert_int_equal(mdt_ctx_audit(&ctx, &(mdt_audit_event){.type = "t"}, &err),
                     MDT_ERR_INTERNAL);
    mdt_arena_free(&a);
}

static int64_t last_seq(mdt_store *s)
{
    int64_t seq = 0;
    mdt_err err = {0};

    assert_int_equal(mdt_store_audit_last_seq(s, &seq, &err), MDT_OK);
    return seq;
}

/* A service's event comes back in the context, with the context's actor
 * and time, and is appended once: by the commit, not by the service. */
static void test_service_events_appended_once(void **state)
{
    char dir[64], url[128];
    test_clock clk = {.t = T0};
    mdt_env env = {0};
    mdt_arena a;
    mdt_ctx_events l;
    mdt_ctx ctx;
    mdt_err err = {0};
    int64_t seq0;

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mdt_ctx_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite:%s/test.db", dir);
    env.clock = (mdt_clock){test_clock_now, &clk};
    env.rng = mdt_rng_system;
    assert_int_equal(mdt_store_open(url, &env.store, &err), MDT_OK);
    assert_int_equal(mdt_store_migrate(env.store, &err), MDT_OK);
    mdt_arena_init(&a, 4096);
    mdt_ctx_events_init(&l, &a);
    mdt_ctx_init(&ctx, &l, "cli", T0 + 5, NULL, NULL);
    seq0 = last_seq(env.store);

    assert_int_equal(mdt_scope_create(&env, &ctx, "read", NULL, NULL, NULL, &err), MDT_OK);
    assert_int_equal(last_seq(env.store), seq0); /* recorded, not appended */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ev[0].type, "scope.created");
    assert_string_equal(l.ev[0].actor, "cli");
    assert_int_equal(mdt_ctx_commit(&env, &ctx, &err), MDT_OK);
    assert_int_equal(last_seq(env.store), seq0 + 1);
    assert_int_equal(l.n, 0);
    assert_int_equal(mdt_ctx_commit(&env, &ctx, &err), MDT_OK); /* nothing twice */
    assert_int_equal(last_seq(env.store), seq0 + 1);

    /* a refused call records nothing */
    assert_int_equal(mdt_scope_create(&env, &ctx, "read", NULL, NULL, NULL, &err),
                     MDT_ERR_CONFLICT);
    assert_int_equal(l.n, 0);

    mdt_store_close(env.store);
    mdt_arena_free(&a);
    test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_copied_in_order),
        cmocka_unit_test(test_events_bounded),
        cmocka_unit_test(test_service_events_appended_once),
    };
    return cmocka_run_group_tests_name("request context", tests, NULL, NULL);
}
