#define _GNU_SOURCE
#include "app/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


mdt_rc mdt_mkdirs(const char *path, mdt_err *err)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return mdt_fail(err, MDT_ERR_CONFIG, "bad directory path");
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return mdt_failf(err, MDT_ERR_IO, "cannot create directory", "cannot create %s: %s",
                             buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return mdt_failf(err, MDT_ERR_IO, "cannot create directory", "cannot create %s: %s", buf,
                         strerror(errno));
    return MDT_OK;
}

const char *mdt_env_config_source(const mdt_env *env)
{
    return env->config_file ? env->config_file : "built-in defaults (no ./mandate.conf here)";
}

const mdt_resources *mdt_env_resources(const mdt_env *env)
{
    return __atomic_load_n(&env->resources, __ATOMIC_ACQUIRE);
}

mdt_pdp *mdt_env_pdp(const mdt_env *env)
{
    return __atomic_load_n(&env->pdp, __ATOMIC_ACQUIRE);
}

mdt_webhooks *mdt_env_webhooks(const mdt_env *env)
{
    return __atomic_load_n(&env->webhooks, __ATOMIC_ACQUIRE);
}

/* Epochs (see env.h). A reader counts itself in the slot of the epoch it
 * saw, then checks that the epoch has not moved meanwhile (else it counts
 * itself again in the new one): every reader counted in a slot began while
 * that slot's epoch was current. The reloader swaps a pointer, then moves
 * the epoch on and waits for the old slot to empty: a reader that read the
 * old pointer began before the move, so it was counted there. The slot of
 * the epoch before was emptied by the previous wait, which ended before the
 * epoch moves again. */
unsigned mdt_env_read_begin(mdt_env *env)
{
    for (;;) {
        unsigned e = __atomic_load_n(&env->epoch, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&env->readers[e & 1], 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&env->epoch, __ATOMIC_SEQ_CST) == e)
            return e & 1;
        __atomic_sub_fetch(&env->readers[e & 1], 1, __ATOMIC_SEQ_CST);
    }
}

void mdt_env_read_end(mdt_env *env, unsigned slot)
{
    __atomic_sub_fetch(&env->readers[slot & 1], 1, __ATOMIC_SEQ_CST);
}

mdt_rc mdt_env_retire(mdt_env *env, void *obj, void (*free_fn)(void *obj), mdt_err *err)
{
    mdt_env_retired *r;

    if (!obj)
        return MDT_OK;
    if (!(r = calloc(1, sizeof(*r))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    r->obj = obj;
    r->free_fn = free_fn;
    r->epoch = __atomic_load_n(&env->epoch, __ATOMIC_SEQ_CST);
    r->next = env->retired;
    env->retired = r;
    return MDT_OK;
}

/* Frees what was retired before epoch `before`. */
static void free_retired(mdt_env *env, unsigned before)
{
    mdt_env_retired **p = &env->retired;

    while (*p) {
        mdt_env_retired *r = *p;
        if ((int)(before - r->epoch) > 0) {
            *p = r->next;
            r->free_fn(r->obj);
            free(r);
        } else {
            p = &r->next;
        }
    }
}

bool mdt_env_reclaim(mdt_env *env)
{
    unsigned e;

    if (env->draining) {
        if (__atomic_load_n(&env->readers[env->drain_slot], __ATOMIC_SEQ_CST) != 0)
            return false;
        env->draining = false;
        free_retired(env, __atomic_load_n(&env->epoch, __ATOMIC_SEQ_CST));
    }
    if (!env->retired)
        return true;
    /* what is left was retired in the current epoch: move it on */
    e = __atomic_add_fetch(&env->epoch, 1, __ATOMIC_SEQ_CST);
    env->drain_slot = (e - 1) & 1;
    env->draining = true;
    if (__atomic_load_n(&env->readers[env->drain_slot], __ATOMIC_SEQ_CST) != 0)
        return false;
    env->draining = false;
    free_retired(env, e);
    return env->retired == NULL;
}

void mdt_env_reclaim_all(mdt_env *env)
{
    free_retired(env, __atomic_load_n(&env->epoch, __ATOMIC_SEQ_CST) + 1);
    env->draining = false;
}
