/* app/env: what SIGHUP replaces is freed only once every reader that began
 * before the swap has ended (mdt_env_read_begin / retire / reclaim). */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>

#include "app/env.h"

typedef struct {
    int magic; /* 42 while alive; 0 once freed (kept in memory to be seen) */
    int *freed_count;
} obj;

static void obj_free(void *p)
{
    obj *o = p;
    o->magic = 0;
    (*o->freed_count)++;
}

/* A reader that began before the retire holds it back; one that began
 * after does not. */
static void test_reader_holds_back(void **state)
{
    mdt_env env = {0};
    int freed = 0;
    obj a = {42, &freed}, b = {42, &freed};
    mdt_err err = {0};
    unsigned early, late;
    (void)state;

    early = mdt_env_read_begin(&env);
    assert_int_equal(mdt_env_retire(&env, &a, obj_free, &err), MDT_OK);
    assert_false(mdt_env_reclaim(&env));
    assert_int_equal(freed, 0);
    late = mdt_env_read_begin(&env); /* began after the epoch moved on */
    assert_false(mdt_env_reclaim(&env));
    assert_int_equal(freed, 0);
    mdt_env_read_end(&env, early);
    assert_true(mdt_env_reclaim(&env));
    assert_int_equal(freed, 1);
    assert_int_equal(a.magic, 0);
    /* the late reader holds back what is retired from now on */
    assert_int_equal(mdt_env_retire(&env, &b, obj_free, &err), MDT_OK);
    assert_false(mdt_env_reclaim(&env));
    mdt_env_read_end(&env, late);
    assert_true(mdt_env_reclaim(&env));
    assert_int_equal(freed, 2);
    /* NULL retires nothing; reclaim_all frees what is left */
    assert_int_equal(mdt_env_retire(&env, NULL, obj_free, &err), MDT_OK);
    assert_true(mdt_env_reclaim(&env));
}

/* Readers on threads check what they read while the main thread swaps,
 * retires and reclaims: none ever sees a freed object. Bounded in count. */
#define SWAPS 2000
#define READERS 4

typedef struct {
    mdt_env *env;
    obj *_Atomic *cur;
    atomic_bool stop;
    atomic_long bad, reads;
} race;

static void *reader(void *p)
{
    race *r = p;

    while (!atomic_load(&r->stop)) {
        unsigned slot = mdt_env_read_begin(r->env);
        obj *o = atomic_load(r->cur);
        for (int i = 0; i < 50; i++)
            if (o->magic != 42)
                atomic_fetch_add(&r->bad, 1);
        mdt_env_read_end(r->env, slot);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    static obj pool[SWAPS + 1];
    mdt_env env = {0};
    int freed = 0;
    obj *_Atomic cur = &pool[0];
    race r = {.env = &env, .cur = &cur};
    pthread_t t[READERS];
    mdt_err err = {0};
    (void)state;

    for (int i = 0; i <= SWAPS; i++)
        pool[i] = (obj){42, &freed};
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &r), 0);
    /* the swaps start once the readers run (a loaded machine may not have
     * scheduled them yet), and give them the processor now and then */
    for (long i = 0; i < 10000000 && atomic_load(&r.reads) < READERS; i++)
        sched_yield();
    for (int i = 1; i <= SWAPS; i++) {
        obj *old = atomic_exchange(&cur, &pool[i]);
        assert_int_equal(mdt_env_retire(&env, old, obj_free, &err), MDT_OK);
        mdt_env_reclaim(&env);
        if (i % 64 == 0)
            sched_yield();
    }
    for (int i = 0; i < 100000 && !mdt_env_reclaim(&env); i++)
        sched_yield();
    atomic_store(&r.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(t[i], NULL);
    mdt_env_reclaim_all(&env);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_int_equal(freed, SWAPS);
    assert_int_equal(pool[SWAPS].magic, 42); /* the current one is never retired */
    assert_true(atomic_load(&r.reads) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_holds_back),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests_name("env_reload", tests, NULL, NULL);
}
