/* A value of each thread's own (a cache, a reused context): made on the
 * thread's first use, destroyed when the thread exits. One pthread key per
 * value, made on first use by whichever thread comes first.
 *
 *     static void *table_make(void) { return calloc(1, sizeof(table)); }
 *     static mdt_thread_local tables = MDT_THREAD_LOCAL(table_make, table_free);
 *
 *     table *t = mdt_thread_local_get(&tables);    (NULL: out of memory)
 *
 * Only for objects of static duration: the key is never deleted. */
#ifndef MDT_CORE_THREAD_LOCAL_H
#define MDT_CORE_THREAD_LOCAL_H

#include <pthread.h>

typedef struct {
    void *(*make)(void);      /* a thread's new value; NULL when out of memory */
    void (*destroy)(void *);  /* at the thread's exit and by mdt_thread_local_drop; never NULL */
    /* private */
    pthread_key_t key;
    _Atomic int state;        /* 0: no key yet, 1: key made, -1: its creation failed (for good) */
} mdt_thread_local;

#define MDT_THREAD_LOCAL(make_fn, destroy_fn) {.make = (make_fn), .destroy = (destroy_fn)}

/* The calling thread's value, made on its first call. NULL when it cannot
 * be: make failed (a later call tries again), the thread's slot could not
 * be set (the value is destroyed; a later call tries again) or no key could
 * be made (every call answers NULL). Borrowed: the thread owns it. When the
 * value exists, this is an atomic load and a pthread_getspecific. */
void *mdt_thread_local_get(mdt_thread_local *t);

/* The calling thread's value if it has one, else NULL; never makes one. */
void *mdt_thread_local_peek(mdt_thread_local *t);

/* Destroys the calling thread's value now, if it has one; the thread's next
 * mdt_thread_local_get makes a new one. */
void mdt_thread_local_drop(mdt_thread_local *t);

#endif
