/* core/thread_local: a value per thread, made on first use, destroyed at
 * the thread's exit or on drop; a failed make is tried again. */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>

#include "core/thread_local.h"

/* A value: the number of the make that returned it. */
typedef struct {
    int serial;
} value;

static atomic_int tries, makes, destroys, destroyed_null;
static atomic_bool fail_make;

static void *make_value(void)
{
    value *v;

    atomic_fetch_add(&tries, 1);
    if (atomic_load(&fail_make))
        return NULL;
    if (!(v = malloc(sizeof(*v))))
        return NULL;
    v->serial = atomic_fetch_add(&makes, 1) + 1;
    return v;
}

static void destroy_value(void *p)
{
    atomic_fetch_add(p ? &destroys : &destroyed_null, 1); /* no cmocka check off its thread */
    free(p);
}

static void reset(void)
{
    atomic_store(&tries, 0);
    atomic_store(&makes, 0);
    atomic_store(&destroys, 0);
    atomic_store(&fail_make, false);
}

#define THREADS 8

static mdt_thread_local per_thread = MDT_THREAD_LOCAL(make_value, destroy_value);
static pthread_barrier_t all_in;
static int serials[THREADS];

/* All threads at once (the barrier), each on a key none has made yet:
 * one value per thread, the same at every call. */
static void *use_value(void *arg)
{
    int *serial = arg;
    value *v;

    pthread_barrier_wait(&all_in);
    v = mdt_thread_local_get(&per_thread);
    if (!v)
        return NULL;
    for (int i = 0; i < 100; i++)
        if (mdt_thread_local_get(&per_thread) != v || mdt_thread_local_peek(&per_thread) != v)
            return NULL;
    *serial = v->serial;
    pthread_barrier_wait(&all_in); /* all alive while the others look */
    return v;
}

static void test_one_per_thread(void **state)
{
    pthread_t t[THREADS];
    void *got[THREADS];
    (void)state;

    reset();
    assert_int_equal(pthread_barrier_init(&all_in, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, use_value, &serials[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
    pthread_barrier_destroy(&all_in);
    for (int i = 0; i < THREADS; i++) {
        assert_non_null(got[i]);
        for (int j = 0; j < i; j++) {
            assert_ptr_not_equal(got[i], got[j]);
            assert_int_not_equal(serials[i], serials[j]);
        }
    }
    assert_int_equal(atomic_load(&makes), THREADS);    /* once per thread */
    assert_int_equal(atomic_load(&destroys), THREADS); /* each at its thread's exit */
    assert_int_equal(atomic_load(&destroyed_null), 0);
    /* this thread has none yet: its own first get makes one */
    assert_null(mdt_thread_local_peek(&per_thread));
    assert_non_null(mdt_thread_local_get(&per_thread));
    assert_int_equal(atomic_load(&makes), THREADS + 1);
    mdt_thread_local_drop(&per_thread);
}

static mdt_thread_local dropped = MDT_THREAD_LOCAL(make_value, destroy_value);

static void test_drop(void **state)
{
    value *v;
    (void)state;

    reset();
    mdt_thread_local_drop(&dropped); /* no key yet: nothing to do */
    assert_null(mdt_thread_local_peek(&dropped));
    assert_int_equal(atomic_load(&makes), 0);
    assert_non_null(v = mdt_thread_local_get(&dropped));
    assert_int_equal(v->serial, 1);
    mdt_thread_local_drop(&dropped);
    assert_int_equal(atomic_load(&destroys), 1);
    assert_null(mdt_thread_local_peek(&dropped));
    mdt_thread_local_drop(&dropped); /* none now: nothing to do */
    assert_int_equal(atomic_load(&destroys), 1);
    assert_non_null(v = mdt_thread_local_get(&dropped));
    assert_int_equal(v->serial, 2); /* a new one */
    assert_ptr_equal(mdt_thread_local_peek(&dropped), v);
    mdt_thread_local_drop(&dropped);
    assert_int_equal(atomic_load(&destroys), 2);
}

static mdt_thread_local failing = MDT_THREAD_LOCAL(make_value, destroy_value);

static void test_failed_make(void **state)
{
    value *v;
    (void)state;

    reset();
    atomic_store(&fail_make, true);
    assert_null(mdt_thread_local_get(&failing));
    assert_null(mdt_thread_local_get(&failing));
    assert_null(mdt_thread_local_peek(&failing));
    assert_int_equal(atomic_load(&tries), 2); /* each get tried */
    assert_int_equal(atomic_load(&destroys), 0);
    atomic_store(&fail_make, false);
    assert_non_null(v = mdt_thread_local_get(&failing)); /* tried again */
    assert_int_equal(atomic_load(&tries), 3);
    assert_int_equal(atomic_load(&makes), 1);
    assert_ptr_equal(mdt_thread_local_get(&failing), v);
    mdt_thread_local_drop(&failing);
    assert_int_equal(atomic_load(&destroys), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_per_thread),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_failed_make),
    };
    return cmocka_run_group_tests_name("thread_local", tests, NULL, NULL);
}
