/* The JWK Set cache (see jwks_cache.h). One table of MDT_JWKS_CACHE_MAX
 * entries behind one mutex; fetches and parses happen outside the mutex,
 * and an entry being fetched is never evicted, so waiters find it again. */
#include "oauth/jwks_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/clock.h"
#include "core/hash.h"

typedef struct {
    char *key;          /* URL, or the base64url SHA-256 of a registered set; NULL: free */
    uint64_t hash;
    bool registered;    /* a registered set: never fetched, never stale */
    mdt_keyset *keys;   /* NULL until fetched (or after a failed refetch past ttl) */
    int64_t fetched_at;
    int64_t attempted_at;
    bool attempted, failed, fetching;
    mdt_err error;      /* of the last failed fetch */
    uint64_t used;      /* LRU tick */
    mdt_fetch_waiter *waiters; /* requests waiting for the fetch under way */
} entry;

struct mdt_jwks_cache {
    mdt_jwks_cache_opts o;
    pthread_mutex_t mu;
    pthread_cond_t fetched;
    uint64_t tick;
    uint64_t fetches;
    entry e[MDT_JWKS_CACHE_MAX];
};

typedef enum { USE, FAILED, FETCH } decision;

mdt_jwks_cache_opts mdt_jwks_cache_opts_from(const mdt_config *cfg)
{
    mdt_jwks_cache_opts o = {
        .ttl = cfg->jwks_uri_cache_ttl,
        .refetch_interval = cfg->jwks_uri_refetch_interval,
        .fetch = {.kind = MDT_MK_JWKS, .timeout_ms = cfg->jwks_uri_timeout * 1000,
                  .max_bytes = (size_t)cfg->jwks_uri_max_bytes,
                  .allow_http = cfg->jwks_uri_allow_http,
                  .allow_private = cfg->jwks_uri_allow_private,
                  .ca_file = cfg->outbound_ca_file},
    };
    return o;
}

mdt_rc mdt_jwks_cache_new(const mdt_jwks_cache_opts *o, mdt_jwks_cache **out, mdt_err *err)
{
    mdt_jwks_cache *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    c->o = *o;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return mdt_fail(err, MDT_ERR_INTERNAL, "cannot create a mutex");
    }
    if (pthread_cond_init(&c->fetched, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return mdt_fail(err, MDT_ERR_INTERNAL, "cannot create a condition variable");
    }
    *out = c;
    return MDT_OK;
}

static void entry_clear(entry *e)
{
    free(e->key);
    mdt_keyset_unref(e->keys);
    memset(e, 0, sizeof(*e));
}

void mdt_jwks_cache_free(mdt_jwks_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < MDT_JWKS_CACHE_MAX; i++)
        entry_clear(&c->e[i]);
    pthread_cond_destroy(&c->fetched);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t mdt_jwks_cache_fetches(mdt_jwks_cache *c)
{
    uint64_t n;

    pthread_mutex_lock(&c->mu);
    n = c->fetches;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Under the mutex. */
static entry *find(mdt_jwks_cache *c, const char *key, uint64_t h, bool registered)
{
    for (size_t i = 0; i < MDT_JWKS_CACHE_MAX; i++) {
        entry *e = &c->e[i];
        if (e->key && e->hash == h && e->registered == registered && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

/* Under the mutex: a free entry, else the least recently used one that is
 * not being fetched; NULL when none (or on NOMEM). */
static entry *add(mdt_jwks_cache *c, const char *key, uint64_t h, bool registered)
{
    entry *victim = NULL;
    char *k;

    for (size_t i = 0; i < MDT_JWKS_CACHE_MAX; i++) {
        entry *e = &c->e[i];
        if (!e->key) {
            victim = e;
            break;
        }
        if (!e->fetching && (!victim || e->used < victim->used))
            victim = e;
    }
    if (!victim || !(k = mdt_strdup(key)))
        return NULL;
    entry_clear(victim);
    victim->key = k;
    victim->hash = h;
    victim->registered = registered;
    return victim;
}

/* A fetch attempted at now counts as fresh and recent for requests of that
 * time whatever ttl and refetch_interval are (zero included): a request run
 * again after the fetch it waited for uses that fetch, and never starts
 * another. */
static decision decide(const mdt_jwks_cache *c, const entry *e, int64_t now, bool refresh)
{
    bool recent = e->attempted &&
                  (now - e->attempted_at < c->o.refetch_interval || e->attempted_at >= now);
    bool fresh = e->keys && (now - e->fetched_at < c->o.ttl || e->fetched_at >= now);

    if (fresh && (!refresh || recent))
        return USE;
    if (recent && e->failed)
        return FAILED;
    return FETCH;
}

/* Outside the mutex. */
static mdt_rc fetch_parse(const mdt_jwks_cache *c, const char *url, mdt_keyset **ks, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc;

    mdt_buf_init(&b, c->o.fetch.max_bytes);
    rc = c->o.fetch_fn ? c->o.fetch_fn(c->o.fetch_ctx, url, &b, err)
                       : mdt_fetch_get(url, &c->o.fetch, &b, err);
    if (rc == MDT_OK)
        rc = mdt_keyset_parse(b.data ? b.data : "", b.len, ks, err);
    mdt_buf_free(&b);
    return rc;
}

/* Under the mutex: records the outcome of a fetch and says what to return. */
static mdt_rc settle(mdt_jwks_cache *c, entry *e, int64_t now, mdt_rc rc, mdt_keyset *ks,
                     const mdt_err *ferr, mdt_keyset **out, mdt_err *err)
{
    bool fresh = e->keys && now - e->fetched_at < c->o.ttl;

    c->fetches++;
    e->fetching = false;
    e->attempted = true;
    e->attempted_at = now;
    e->failed = rc != MDT_OK;
    if (rc == MDT_OK) {
        mdt_keyset_unref(e->keys);
        e->keys = ks;
        e->fetched_at = now;
        if (out)
            *out = mdt_keyset_ref(ks);
        return MDT_OK;
    }
    e->error = *ferr;
    if (fresh) { /* a refetch on an unknown kid failed: the current set stands */
        if (out)
            *out = mdt_keyset_ref(e->keys);
        return MDT_OK;
    }
    mdt_keyset_unref(e->keys);
    e->keys = NULL;
    if (err)
        *err = *ferr;
    return rc;
}

/* A fetch under way on the fetcher. */
typedef struct {
    mdt_jwks_cache *c;
    char *url;
    uint64_t hash;
    int64_t now;      /* of the request that started the fetch */
    int64_t mono_ms;  /* monotonic time then */
} pending;

/* The request's "now" moved on by the time the fetch took: a failure is
 * remembered, and a document or key set used, from when it was learnt. */
static int64_t ended_at(const pending *p)
{
    int64_t took = mdt_time_mono_ms() - p->mono_ms;

    return p->now + (took > 0 ? took / 1000 : 0);
}

/* On the fetcher's thread: parse, settle, wake the waiters. */
static void fetched(void *ctxp, mdt_rc rc, const mdt_buf *body, const mdt_fetch_headers *h,
                    const mdt_err *ferr)
{
    pending *p = ctxp;
    mdt_jwks_cache *c = p->c;
    mdt_keyset *ks = NULL;
    mdt_fetch_waiter *waiters = NULL;
    mdt_err perr = *ferr;
    entry *e;
    (void)h;

    if (rc == MDT_OK)
        rc = mdt_keyset_parse(body->data ? body->data : "", body->len, &ks, &perr);
    pthread_mutex_lock(&c->mu);
    if ((e = find(c, p->url, p->hash, false))) {
        settle(c, e, ended_at(p), rc, ks, &perr, NULL, NULL);
        waiters = e->waiters;
        e->waiters = NULL;
    } else {
        mdt_keyset_unref(ks);
    }
    pthread_cond_broadcast(&c->fetched);
    pthread_mutex_unlock(&c->mu);
    mdt_fetch_waiters_wake(waiters);
    free(p->url);
    free(p);
}

/* Under the mutex, e marked fetching with w registered: hands the fetch to
 * the fetcher. On failure e is settled with it and w unregistered. */
static mdt_rc fetch_async(mdt_jwks_cache *c, entry *e, const char *url, uint64_t h, int64_t now,
                          mdt_err *err)
{
    pending *p = calloc(1, sizeof(*p));
    mdt_err ferr = {0};
    mdt_rc rc;

    if (!p || !(p->url = mdt_strdup(url))) {
        free(p);
        rc = mdt_fail(&ferr, MDT_ERR_NOMEM, "out of memory");
    } else {
        *p = (pending){.c = c, .url = p->url, .hash = h, .now = now,
                       .mono_ms = mdt_time_mono_ms()};
        rc = mdt_fetcher_submit(c->o.fetcher, url, &c->o.fetch, NULL, fetched, p, &ferr);
        if (rc != MDT_OK) {
            free(p->url);
            free(p);
        }
    }
    if (rc == MDT_OK)
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "waiting for the key set");
    /* not started: nobody waits; a cap reached is not the URL's failure */
    e->waiters = NULL;
    e->fetching = false;
    if (err)
        *err = ferr;
    return rc;
}

mdt_rc mdt_jwks_cache_get(mdt_jwks_cache *c, const char *url, int64_t now, bool refresh,
                          mdt_fetch_waiter *w, mdt_keyset **out, mdt_err *err)
{
    uint64_t h = fnv1a(url);
    mdt_keyset *ks = NULL;
    mdt_err ferr = {0};
    bool async = w && c->o.fetcher && !c->o.fetch_fn;
    entry *e;
    mdt_rc rc = MDT_OK;

    *out = NULL;
    if (strlen(url) > MDT_FETCH_URL_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "URL too long");
    pthread_mutex_lock(&c->mu);
    while ((e = find(c, url, h, false)) && e->fetching && !async)
        pthread_cond_wait(&c->fetched, &c->mu);
    if (e && e->fetching) { /* async: join the fetch under way */
        w->registered = true;
        w->next = e->waiters;
        e->waiters = w;
        pthread_mutex_unlock(&c->mu);
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "waiting for the key set");
    }
    if (!e && !(e = add(c, url, h, false))) {
        pthread_mutex_unlock(&c->mu);
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "JWK Set cache full");
    }
    e->used = ++c->tick;
    switch (decide(c, e, now, refresh)) {
    case USE:
        *out = mdt_keyset_ref(e->keys);
        break;
    case FAILED:
        if (err)
            *err = e->error;
        rc = e->error.rc;
        break;
    case FETCH:
        e->fetching = true;
        if (async) {
            w->registered = true;
            w->next = NULL;
            e->waiters = w;
            rc = fetch_async(c, e, url, h, now, err);
            w->registered = e->waiters == w; /* else not started: answered now */
            break;
        }
        pthread_mutex_unlock(&c->mu);
        rc = fetch_parse(c, url, &ks, &ferr);
        pthread_mutex_lock(&c->mu);
        e = find(c, url, h, false); /* still there: entries being fetched are not evicted */
        rc = settle(c, e, now, rc, ks, &ferr, out, err);
        pthread_cond_broadcast(&c->fetched);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

mdt_rc mdt_jwks_cache_inline(mdt_jwks_cache *c, const char *json, mdt_keyset **out, mdt_err *err)
{
    uint8_t digest[32];
    char key[64];
    mdt_keyset *ks = NULL;
    entry *e;
    uint64_t h;
    mdt_rc rc;

    *out = NULL;
    mdt_sha256(json, strlen(json), digest);
    mdt_b64url_encode(digest, sizeof(digest), key);
    h = fnv1a(key);
    pthread_mutex_lock(&c->mu);
    if ((e = find(c, key, h, true)) && e->keys) {
        e->used = ++c->tick;
        *out = mdt_keyset_ref(e->keys);
    }
    pthread_mutex_unlock(&c->mu);
    if (*out)
        return MDT_OK;
    if ((rc = mdt_keyset_parse(json, strlen(json), &ks, err)) != MDT_OK)
        return rc;
    pthread_mutex_lock(&c->mu);
    if ((e = find(c, key, h, true)) && e->keys) {
        mdt_keyset_unref(ks); /* another thread parsed it meanwhile */
        ks = mdt_keyset_ref(e->keys);
    } else if ((e = add(c, key, h, true))) {
        e->keys = mdt_keyset_ref(ks);
    }
    if (e)
        e->used = ++c->tick;
    pthread_mutex_unlock(&c->mu);
    *out = ks;
    return MDT_OK;
}

static mdt_rc source_keys(mdt_jwks_cache *c, const mdt_key_source *src, int64_t now, bool refresh,
                          mdt_keyset **out, mdt_err *err)
{
    if (src->fixed) {
        *out = mdt_keyset_ref(src->fixed);
        return MDT_OK;
    }
    if (src->jwks)
        return c ? mdt_jwks_cache_inline(c, src->jwks, out, err)
                 : mdt_keyset_parse(src->jwks, strlen(src->jwks), out, err);
    if (!c || !src->uri)
        return mdt_fail(err, MDT_ERR_INTERNAL, "no JWK Set cache");
    return mdt_jwks_cache_get(c, src->uri, now, refresh, src->wait, out, err);
}

static bool server_fault(mdt_rc rc)
{
    return rc == MDT_ERR_NOMEM || rc == MDT_ERR_INTERNAL || rc == MDT_ERR_CRYPTO ||
           rc == MDT_ERR_STORE;
}

mdt_rc mdt_jwks_verify(mdt_jwks_cache *c, const mdt_assertion *a, const mdt_key_source *src,
                       int64_t now, uint8_t thumb[32], mdt_err *err)
{
    mdt_keyset *ks = NULL;
    const mdt_jwk *used = NULL;
    mdt_err kerr = {0};
    mdt_rc rc = source_keys(c, src, now, false, &ks, &kerr);
    bool loaded = rc == MDT_OK;

    if (loaded && (rc = mdt_assertion_verify(a, ks, &used, &kerr)) == MDT_ERR_NOT_FOUND &&
        src->uri) {
        mdt_keyset_unref(ks); /* unknown kid: the keys may have rotated */
        ks = NULL;
        loaded = (rc = source_keys(c, src, now, true, &ks, &kerr)) == MDT_OK;
        if (loaded)
            rc = mdt_assertion_verify(a, ks, &used, &kerr);
    }
    if (rc == MDT_OK)
        rc = mdt_jwk_thumbprint(used, thumb, &kerr);
    mdt_keyset_unref(ks);
    if (rc == MDT_OK)
        return MDT_OK;
    if (server_fault(rc)) {
        if (err)
            *err = kerr;
        return rc;
    }
    return mdt_failf(err, MDT_ERR_VERIFY, "invalid assertion", "%s%s",
                     loaded ? "" : (src->uri ? "jwks_uri: " : "keys: "), mdt_err_text(&kerr));
}
