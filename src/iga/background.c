/* Background work on approval requests (see background.h). */
#include "iga/background.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "app/ctx.h"
#include "core/clock.h"
#include "core/log.h"
#include "iga/requests.h"
#include "iga/usage.h"
#include "iga/webhooks.h"
#include "store/store.h"

#define IDLE_WAIT 1 /* seconds a delivery thread waits when nothing is due */
#define MAX_THREADS 66

struct mdt_background {
    mdt_env *env;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th[MAX_THREADS];
    size_t n;
};

/* Waits up to secs, or until stopped. Whether to go on. */
static bool nap(mdt_background *bg, int64_t secs)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)secs;
    pthread_mutex_lock(&bg->mu);
    while (!atomic_load(&bg->stop))
        if (pthread_cond_timedwait(&bg->cv, &bg->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&bg->mu);
    return !atomic_load(&bg->stop);
}

/* One batch of expired requests, closed and audited. *closed: how many. */
static mdt_rc expire_batch(mdt_env *env, size_t *closed, mdt_err *err)
{
    mdt_arena a;
    mdt_ctx_events events;
    mdt_ctx ctx;
    mdt_rc rc;

    mdt_arena_init(&a, 8192);
    mdt_ctx_events_init(&events, &a);
    mdt_ctx_init(&ctx, &events, "server", mdt_now(&env->clock), NULL, NULL);
    rc = mdt_request_expire_due(env, &ctx, &a, closed, err);
    /* what was closed is audited even when a later one failed */
    if (mdt_ctx_commit(env, &ctx, rc == MDT_OK ? err : NULL) != MDT_OK && rc == MDT_OK)
        rc = MDT_ERR_STORE;
    mdt_arena_free(&a);
    return rc;
}

/* Deletes what has expired for good (mdt_store_purge_expired), at most once
 * per [storage] purge_interval; the first time at start. */
static void purge(mdt_env *env, int64_t *last)
{
    int64_t now = mdt_now(&env->clock);
    mdt_err err = {0};

    if (*last && now - *last < env->cfg.purge_interval)
        return;
    *last = now;
    if (mdt_store_purge_expired(env->store, now, &err) != MDT_OK)
        MDT_WARN("deleting expired rows: %s", mdt_err_text(&err));
}

static void *expiry_thread(void *p)
{
    mdt_background *bg = p;
    mdt_env *env = bg->env;
    int64_t purged = 0;

    do {
        size_t closed = 0;
        purge(env, &purged);
        for (int i = 0; i < 64 && !atomic_load(&bg->stop); i++) { /* bounded per round */
            mdt_err err = {0};
            if (expire_batch(env, &closed, &err) != MDT_OK) {
                MDT_WARN("closing expired approval requests: %s", mdt_err_text(&err));
                break;
            }
            if (closed < MDT_REQUEST_EXPIRE_BATCH)
                break;
        }
    } while (nap(bg, env->cfg.approvals_expiry_interval));
    mdt_store_thread_done(env->store);
    return NULL;
}

/* Writes the usage batch every [usage] flush_interval, or at once when the
 * table is full; the last batch is written by mdt_background_stop. */
static void *usage_thread(void *p)
{
    mdt_background *bg = p;
    mdt_env *env = bg->env;

    while (!atomic_load(&bg->stop)) {
        mdt_err err = {0};
        mdt_usage_wait(env->usage, env->cfg.usage_flush_interval);
        if (atomic_load(&bg->stop))
            break;
        if (mdt_usage_flush(env, &err) != MDT_OK) {
            MDT_WARN("writing client usage: %s", mdt_err_text(&err));
            if (!nap(bg, 1)) /* the database is away: no faster than once a second */
                break;
        }
    }
    mdt_store_thread_done(env->store);
    return NULL;
}

static void *delivery_thread(void *p)
{
    mdt_background *bg = p;
    mdt_env *env = bg->env;

    while (!atomic_load(&bg->stop)) {
        mdt_err err = {0};
        bool did = false;
        unsigned slot = mdt_env_read_begin(env); /* the endpoints SIGHUP may replace */
        mdt_rc rc = mdt_webhooks_deliver_one(env, &bg->stop, &did, &err);
        mdt_env_read_end(env, slot);
        if (rc != MDT_OK)
            MDT_WARN("webhook delivery: %s", mdt_err_text(&err));
        if (!did && !nap(bg, IDLE_WAIT))
            break;
    }
    mdt_store_thread_done(env->store);
    return NULL;
}

mdt_rc mdt_background_start(mdt_env *env, mdt_background **out, mdt_err *err)
{
    mdt_background *bg = calloc(1, sizeof(*bg));
    /* one delivery thread even without webhooks: SIGHUP may configure some */
    size_t workers = mdt_env_webhooks(env) ? (size_t)env->cfg.webhooks_max_concurrent : 1;

    *out = NULL;
    if (!bg)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (workers > MAX_THREADS - 2)
        workers = MAX_THREADS - 2;
    bg->env = env;
    atomic_init(&bg->stop, false);
    pthread_mutex_init(&bg->mu, NULL);
    pthread_cond_init(&bg->cv, NULL);
    if (!env->usage && mdt_usage_new((size_t)env->cfg.usage_max_entries, &env->usage, err) != MDT_OK) {
        pthread_cond_destroy(&bg->cv);
        pthread_mutex_destroy(&bg->mu);
        free(bg);
        return MDT_ERR_NOMEM;
    }
    for (size_t i = 0; i <= workers + 1; i++) {
        void *(*fn)(void *) = i == 0 ? expiry_thread : i == 1 ? usage_thread : delivery_thread;
        if (pthread_create(&bg->th[i], NULL, fn, bg) != 0) {
            mdt_background_stop(bg);
            return mdt_fail(err, MDT_ERR_INTERNAL, "cannot start the background threads");
        }
        bg->n = i + 1;
    }
    *out = bg;
    return MDT_OK;
}

/* The last usage batch (the server has stopped: nothing adds to it), then
 * the table goes. */
static void flush_last(mdt_env *env)
{
    mdt_err err = {0};

    if (!env->usage)
        return;
    if (mdt_usage_flush(env, &err) != MDT_OK)
        MDT_WARN("writing client usage at shutdown: %s", mdt_err_text(&err));
    mdt_usage_free(env->usage);
    env->usage = NULL;
}

void mdt_background_stop(mdt_background *bg)
{
    if (!bg)
        return;
    pthread_mutex_lock(&bg->mu);
    atomic_store(&bg->stop, true);
    pthread_cond_broadcast(&bg->cv);
    pthread_mutex_unlock(&bg->mu);
    mdt_usage_wake(bg->env->usage);
    for (size_t i = 0; i < bg->n; i++)
        pthread_join(bg->th[i], NULL);
    flush_last(bg->env);
    pthread_cond_destroy(&bg->cv);
    pthread_mutex_destroy(&bg->mu);
    free(bg);
}
