/* Per-thread values on pthread keys. See thread_local.h. */
#include "core/thread_local.h"

#include <stdatomic.h>

/* Taken only by the first calls on a value, until its key exists. */
static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;

/* Makes t's key unless another thread did; whether t has one. */
static int key_made(mdt_thread_local *t)
{
    int s;

    pthread_mutex_lock(&key_mu);
    if (!(s = atomic_load_explicit(&t->state, memory_order_relaxed))) {
        s = pthread_key_create(&t->key, t->destroy) == 0 ? 1 : -1;
        atomic_store_explicit(&t->state, s, memory_order_release);
    }
    pthread_mutex_unlock(&key_mu);
    return s > 0;
}

void *mdt_thread_local_get(mdt_thread_local *t)
{
    int s = atomic_load_explicit(&t->state, memory_order_acquire);
    void *v;

    if (s > 0 && (v = pthread_getspecific(t->key)))
        return v;
    if (s < 0 || (s == 0 && !key_made(t)) || !(v = t->make()))
        return NULL;
    if (pthread_setspecific(t->key, v) != 0) {
        t->destroy(v);
        return NULL;
    }
    return v;
}

void *mdt_thread_local_peek(mdt_thread_local *t)
{
    if (atomic_load_explicit(&t->state, memory_order_acquire) <= 0)
        return NULL;
    return pthread_getspecific(t->key);
}

void mdt_thread_local_drop(mdt_thread_local *t)
{
    void *v = mdt_thread_local_peek(t);

    if (!v)
        return;
    (void)pthread_setspecific(t->key, NULL);
    t->destroy(v);
}
