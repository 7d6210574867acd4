/* The request context of service calls in unit tests: its time read from
 * the environment's (test) clock at each call, its events appended after
 * each call, as a command does (mdt_cli_commit). */
#ifndef MDT_TESTS_TEST_CTX_H
#define MDT_TESTS_TEST_CTX_H

#include "app/ctx.h"
#include "core/clock.h"
#include "store/store.h"

typedef struct {
    mdt_env *env;
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
} test_ctx;

static inline void test_ctx_init(test_ctx *t, mdt_env *env, const char *actor)
{
    t->env = env;
    mdt_arena_init(&t->a, 8192);
    mdt_ctx_events_init(&t->events, &t->a);
    mdt_ctx_init(&t->ctx, &t->events, actor, 0, NULL, NULL);
}

static inline void test_ctx_free(test_ctx *t)
{
    mdt_arena_free(&t->a);
}

/* The context for the next call: now from the clock. */
static inline mdt_ctx *test_ctx_now(test_ctx *t)
{
    t->ctx.now = mdt_now(&t->env->clock);
    return &t->ctx;
}

/* After the call whose result is rc: its events appended; rc, or the
 * append's failure. */
static inline mdt_rc test_ctx_done(test_ctx *t, mdt_rc rc)
{
    mdt_err e = {0};
    mdt_rc arc = mdt_ctx_commit(t->env, &t->ctx, &e);

    return rc != MDT_OK ? rc : arc;
}

/* The fixture of service tests: an environment on a fresh SQLite store in a
 * new temporary directory, its clock the test clock, and a request context.
 * (Needs unit.h first: test_clock, test_rmdir.) */
typedef struct {
    char dir[64];
    test_clock clk;
    mdt_env env;
    mdt_arena a;
    mdt_err err;
    test_ctx tc;
} test_env;

/* name: the directory's prefix under /tmp; t0: the clock's time; actor: who
 * acts in the context. */
static inline void test_env_open(test_env *f, const char *name, int64_t t0, const char *actor)
{
    char url[128];

    snprintf(f->dir, sizeof(f->dir), "/tmp/%s_XXXXXX", name);
    assert_non_null(mkdtemp(f->dir));
    snprintf(url, sizeof(url), "sqlite:%s/test.db", f->dir);
    f->clk.t = t0;
    f->env.clock = (mdt_clock){test_clock_now, &f->clk};
    f->env.rng = mdt_rng_system;
    test_ctx_init(&f->tc, &f->env, actor);
    assert_int_equal(mdt_store_open(url, &f->env.store, &f->err), MDT_OK);
    assert_int_equal(mdt_store_migrate(f->env.store, &f->err), MDT_OK);
    mdt_arena_init(&f->a, 8192);
}

static inline void test_env_close(test_env *f)
{
    mdt_store_close(f->env.store);
    test_ctx_free(&f->tc);
    mdt_arena_free(&f->a);
    test_rmdir(f->dir);
}

#endif
