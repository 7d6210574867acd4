/* Usage counted in memory, written in batches (see usage.h). */
#include "iga/usage.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/log.h"
#include "iga/internal.h"

#define DAY 86400

typedef enum { E_FREE = 0, E_SCOPE, E_DAY } entry_kind;

typedef struct {
    char *client_id;   /* malloc'd */
    char *scope;       /* E_SCOPE: malloc'd; NULL for E_DAY */
    int64_t day;       /* E_DAY */
    int64_t tokens;    /* E_DAY */
    int64_t last_used; /* both */
    uint64_t hash;
    entry_kind kind;
} entry;

struct mdt_usage {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    entry *slots;      /* open addressing, linear probing */
    size_t cap;        /* a power of two, at least twice max */
    size_t n, max;
    uint64_t dropped, logged; /* drops so far, and when last logged */
    bool full, woken;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t key_hash(entry_kind k, const char *client_id, const char *scope, size_t slen,
                         int64_t day)
{
    uint64_t h = fnv(14695981039346656037ULL, &k, sizeof(k));

    h = fnv(h, client_id, strlen(client_id) + 1);
    return k == E_SCOPE ? fnv(h, scope, slen) : fnv(h, &day, sizeof(day));
}

static bool key_eq(const entry *e, entry_kind k, uint64_t h, const char *client_id,
                   const char *scope, size_t slen, int64_t day)
{
    if (e->kind != k || e->hash != h || strcmp(e->client_id, client_id) != 0)
        return false;
    if (k == E_DAY)
        return e->day == day;
    return strlen(e->scope) == slen && memcmp(e->scope, scope, slen) == 0;
}

mdt_rc mdt_usage_new(size_t max_entries, mdt_usage **out, mdt_err *err)
{
    mdt_usage *u = calloc(1, sizeof(*u));
    size_t cap = 16;

    *out = NULL;
    if (max_entries < 1 || max_entries > (SIZE_MAX / sizeof(entry)) / 4) {
        free(u);
        return mdt_fail(err, MDT_ERR_CONFIG, "usage table size out of range");
    }
    while (cap < 2 * max_entries)
        cap *= 2;
    if (!u || !(u->slots = calloc(cap, sizeof(entry)))) {
        free(u);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    u->cap = cap;
    u->max = max_entries;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    *out = u;
    return MDT_OK;
}

static void free_slots(entry *slots, size_t cap)
{
    for (size_t i = 0; slots && i < cap; i++) {
        free(slots[i].client_id);
        free(slots[i].scope);
    }
    free(slots);
}

void mdt_usage_free(mdt_usage *u)
{
    if (!u)
        return;
    free_slots(u->slots, u->cap);
    pthread_cond_destroy(&u->cv);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

/* Under u->mu: the entry of the key, made when absent and there is room;
 * NULL when full (counted as dropped) or out of memory. */
static entry *slot_for(mdt_usage *u, entry_kind k, const char *client_id, const char *scope,
                       size_t slen, int64_t day)
{
    uint64_t h = key_hash(k, client_id, scope, slen, day);
    size_t i = (size_t)h & (u->cap - 1);
    entry *e;

    while (u->slots[i].kind != E_FREE) {
        if (key_eq(&u->slots[i], k, h, client_id, scope, slen, day))
            return &u->slots[i];
        i = (i + 1) & (u->cap - 1);
    }
    if (u->n >= u->max) {
        u->full = true;
        u->dropped++;
        return NULL;
    }
    e = &u->slots[i];
    e->client_id = strdup(client_id);
    e->scope = k == E_SCOPE ? strndup(scope, slen) : NULL;
    if (!e->client_id || (k == E_SCOPE && !e->scope)) {
        free(e->client_id);
        free(e->scope);
        memset(e, 0, sizeof(*e));
        u->dropped++;
        return NULL;
    }
    e->kind = k;
    e->hash = h;
    e->day = day;
    u->n++;
    return e;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Under u->mu. */
static bool add_scope(mdt_usage *u, const char *client_id, const char *scope, size_t slen,
                      int64_t last)
{
    entry *e = slot_for(u, E_SCOPE, client_id, scope, slen, 0);

    if (e)
        e->last_used = max64(e->last_used, last);
    return e != NULL;
}

static bool add_day(mdt_usage *u, const char *client_id, int64_t day, int64_t tokens, int64_t last)
{
    entry *e = slot_for(u, E_DAY, client_id, NULL, 0, day);

    if (e) {
        e->tokens += tokens;
        e->last_used = max64(e->last_used, last);
    }
    return e != NULL;
}

bool mdt_usage_add(mdt_usage *u, const char *client_id, const char *scopes, int64_t now)
{
    bool ok;
    const char *p = scopes ? scopes : "";

    if (!u || !client_id || !client_id[0])
        return true;
    pthread_mutex_lock(&u->mu);
    ok = add_day(u, client_id, now / DAY, 1, now);
    while (*p) {
        size_t len;
        p += strspn(p, " ");
        len = strcspn(p, " ");
        if (len && !add_scope(u, client_id, p, len, now))
            ok = false;
        p += len;
    }
    if (u->full)
        pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return ok;
}

void mdt_usage_note(mdt_env *env, const char *client_id, const char *scopes, int64_t now)
{
    if (env && env->usage)
        (void)mdt_usage_add(env->usage, client_id, scopes, now);
}

size_t mdt_usage_size(mdt_usage *u)
{
    size_t n;

    pthread_mutex_lock(&u->mu);
    n = u->n;
    pthread_mutex_unlock(&u->mu);
    return n;
}

uint64_t mdt_usage_dropped(mdt_usage *u)
{
    uint64_t n;

    pthread_mutex_lock(&u->mu);
    n = u->dropped;
    pthread_mutex_unlock(&u->mu);
    return n;
}

/* The records of the entries of slots (cap), in a. */
static mdt_rc to_records(const entry *slots, size_t cap, size_t n, mdt_arena *a,
                         mdt_usage_scope_rec **sc, size_t *nsc, mdt_usage_day_rec **days,
                         size_t *ndays, mdt_err *err)
{
    *sc = mdt_arena_alloc(a, (n ? n : 1) * sizeof(**sc));
    *days = mdt_arena_alloc(a, (n ? n : 1) * sizeof(**days));
    if (!*sc || !*days)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cap; i++) {
        const entry *e = &slots[i];
        if (e->kind == E_SCOPE) {
            mdt_usage_scope_rec *r = &(*sc)[(*nsc)++];
            r->client_id = mdt_arena_strdup(a, e->client_id);
            r->scope = mdt_arena_strdup(a, e->scope);
            r->last_used_at = e->last_used;
            if (!r->client_id || !r->scope)
                return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        } else if (e->kind == E_DAY) {
            mdt_usage_day_rec *r = &(*days)[(*ndays)++];
            r->client_id = mdt_arena_strdup(a, e->client_id);
            r->day = e->day;
            r->tokens = e->tokens;
            r->last_used_at = e->last_used;
            if (!r->client_id)
                return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        }
    }
    return MDT_OK;
}

mdt_rc mdt_usage_take(mdt_usage *u, mdt_arena *a, mdt_usage_scope_rec **sc, size_t *nsc,
                      mdt_usage_day_rec **days, size_t *ndays, mdt_err *err)
{
    entry *fresh = calloc(u->cap, sizeof(entry)), *old;
    size_t n;
    mdt_rc rc;

    *sc = NULL;
    *days = NULL;
    *nsc = *ndays = 0;
    if (!fresh)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&u->mu);
    old = u->slots;
    n = u->n;
    u->slots = fresh;
    u->n = 0;
    u->full = false;
    pthread_mutex_unlock(&u->mu);
    rc = to_records(old, u->cap, n, a, sc, nsc, days, ndays, err);
    free_slots(old, u->cap);
    return rc;
}

/* Puts a batch that could not be written back where it fits. */
static void give_back(mdt_usage *u, const mdt_usage_scope_rec *sc, size_t nsc,
                      const mdt_usage_day_rec *days, size_t ndays)
{
    pthread_mutex_lock(&u->mu);
    for (size_t i = 0; i < ndays; i++)
        (void)add_day(u, days[i].client_id, days[i].day, days[i].tokens, days[i].last_used_at);
    for (size_t i = 0; i < nsc; i++)
        (void)add_scope(u, sc[i].client_id, sc[i].scope, strlen(sc[i].scope),
                        sc[i].last_used_at);
    u->full = false; /* what did not fit is dropped: no point waking the writer again */
    pthread_mutex_unlock(&u->mu);
}

void mdt_usage_wait(mdt_usage *u, int64_t secs)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)secs;
    pthread_mutex_lock(&u->mu);
    while (!u->full && !u->woken)
        if (pthread_cond_timedwait(&u->cv, &u->mu, &until) == ETIMEDOUT)
            break;
    u->woken = false;
    pthread_mutex_unlock(&u->mu);
}

void mdt_usage_wake(mdt_usage *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->mu);
    u->woken = true;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
}

mdt_rc mdt_usage_flush(mdt_env *env, mdt_err *err)
{
    mdt_usage_scope_rec *sc = NULL;
    mdt_usage_day_rec *days = NULL;
    size_t nsc = 0, ndays = 0;
    uint64_t dropped;
    mdt_arena a;
    mdt_rc rc;

    if (!env->usage)
        return MDT_OK;
    mdt_arena_init(&a, 16384);
    rc = mdt_usage_take(env->usage, &a, &sc, &nsc, &days, &ndays, err);
    if (rc == MDT_OK)
        rc = mdt_store_usage_flush(env->store, sc, nsc, days, ndays, err);
    if (rc != MDT_OK && (nsc || ndays))
        give_back(env->usage, sc, nsc, days, ndays);
    pthread_mutex_lock(&env->usage->mu);
    dropped = env->usage->dropped > env->usage->logged ? env->usage->dropped : 0;
    env->usage->logged = env->usage->dropped;
    pthread_mutex_unlock(&env->usage->mu);
    if (dropped)
        MDT_WARN("usage: %llu uses not counted so far (the table of [usage] max_entries was "
                 "full)", (unsigned long long)dropped);
    mdt_arena_free(&a);
    return rc;
}

static json_t *daily_json(const mdt_usage_day_rec *d, size_t nd, int64_t today, int days)
{
    json_t *arr = json_array();

    for (int64_t day = today - days + 1; arr && day <= today; day++) {
        int64_t tokens = 0;
        char date[21];
        for (size_t i = 0; i < nd; i++)
            if (d[i].day == day)
                tokens += d[i].tokens;
        mdt_time_format(day * DAY, date);
        date[10] = '\0';
        if (json_array_append_new(arr, json_pack("{s:s, s:I}", "day", date,
                                                 "tokens", (json_int_t)tokens)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

mdt_rc mdt_usage_client_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, int days,
                             mdt_arena *a, const char **json, mdt_err *err)
{
    int64_t today = ctx->now / DAY, last = 0;
    mdt_usage_scope_rec *sc = NULL;
    mdt_usage_day_rec *d = NULL;
    size_t nsc = 0, nd = 0;
    json_t *scopes = json_array(), *doc = NULL;
    mdt_rc rc;

    *json = NULL;
    if (days < 1 || days > 400) {
        json_decref(scopes);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "days must be from 1 to 400");
    }
    if ((rc = mdt_store_usage_scope_list(env->store, a, &sc, &nsc, err)) != MDT_OK ||
        (rc = mdt_store_usage_day_list(env->store, client_id, today - 400, a, &d, &nd, err)) !=
            MDT_OK)
        goto out;
    for (size_t i = 0; scopes && i < nsc; i++)
        if (strcmp(sc[i].client_id, client_id) == 0)
            json_array_append_new(scopes, json_pack("{s:s, s:o}", "scope", sc[i].scope,
                                                    "last_used_at",
                                                    (json_t *)mdt_iga__time_json(sc[i].last_used_at)));
    for (size_t i = 0; i < nd; i++)
        last = max64(last, d[i].last_used_at);
    doc = json_pack("{s:s, s:o, s:O, s:o}", "client_id", client_id, "last_used_at",
                    (json_t *)mdt_iga__time_json(last), "scopes", scopes, "daily",
                    daily_json(d, nd, today, days));
    rc = mdt_iga__dump_take(doc, a, json, err);
out:
    json_decref(scopes);
    return rc;
}
