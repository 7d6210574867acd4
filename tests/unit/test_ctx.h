/* The request context of service calls in unit tests: its time read from
 * the environment's (test) clock at each call, its events appended after
 * each call, as a command does (mdt_cli_commit). */
#ifndef MDT_TESTS_TEST_CTX_H
#define MDT_TESTS_TEST_CTX_H

#include "app/ctx.h"
#include "core/clock.h"

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

#endif
