/* Client ID metadata documents (see cimd.h): the URL and document rules,
 * the cache time from HTTP headers, the per-URL cache and the resolution
 * that creates or refreshes the client. The cache is one table of
 * MDT_CIMD_CACHE_MAX entries behind one mutex, as the JWK Set cache's;
 * fetches, checks and the store write happen outside the mutex, and an
 * entry being fetched is never evicted, so waiters find it again. */
#include "oauth/cimd.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/url.h"
#include "iga/client.h"
#include "iga/registration.h"
#include "oauth/client_auth.h"

#define DOC "client ID metadata document"
#define PORT_MAX 65535
#define SECONDS_MAX (100LL * 365 * 86400) /* larger header values are cut to this */

/* ---------------------------------------------------------------- URL rules */

static mdt_rc url_refused(mdt_err *err, const char *rule)
{
    return mdt_client_auth_fail(err, DOC " URL refused: %s", rule);
}

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '\\')
            return false;
    return true;
}

/* A DNS name or an IPv4 address: letters, digits, '-' and '.', no empty label. */
static bool host_ok(const char *h, size_t n)
{
    if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.' || h[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
            return false;
        if (h[i] == '.' && h[i + 1] == '.')
            return false;
    }
    return true;
}

/* Whether the n bytes at h (a host that passed host_ok) are an IPv4
 * loopback address. */
static bool loopback_ip(const char *h, size_t n)
{
    char tmp[256];

    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    return mdt_host_is_loopback_ip(tmp);
}

static bool port_ok(const char *p, size_t n)
{
    long v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return false;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= PORT_MAX;
}

/* Whether a path segment is "." or ".." once %2e is read as '.'. */
static bool dot_segment(const char *s, size_t n)
{
    size_t dots = 0, i = 0;

    while (i < n) {
        if (s[i] == '.') {
            i++;
        } else if (n - i >= 3 && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e') {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

static bool path_ok(const char *path, size_t n)
{
    size_t start = 1;

    for (size_t i = 1; i <= n; i++) {
        if (i < n && path[i] != '/')
            continue;
        if (dot_segment(path + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

static mdt_rc lower_copy(mdt_arena *a, const char *s, size_t n, const char **out, mdt_err *err)
{
    char *c = mdt_arena_strndup(a, s, n);

    if (!c)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        c[i] = (char)tolower((unsigned char)c[i]);
    *out = c;
    return MDT_OK;
}

mdt_rc mdt_cimd_url_check(const char *url, bool allow_http_loopback, mdt_arena *a,
                          const char **host, mdt_err *err)
{
    const char *p, *end, *colon;
    size_t hn;
    bool http = false;

    if (host)
        *host = NULL;
    if (!url || strlen(url) > MDT_FETCH_URL_MAX)
        return url_refused(err, "empty or too long");
    if (!printable_ascii(url))
        return url_refused(err, "not printable ASCII");
    if (strchr(url, '#'))
        return url_refused(err, "fragment");
    if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
    } else if (allow_http_loopback && strncmp(url, "http://", 7) == 0) {
        p = url + 7;
        http = true;
    } else {
        return url_refused(err, "not https");
    }
    end = p + strcspn(p, "/?");
    if (memchr(p, '@', (size_t)(end - p)))
        return url_refused(err, "user name or password");
    if (*end != '/')
        return url_refused(err, "no path");
    colon = memchr(p, ':', (size_t)(end - p));
    hn = (size_t)((colon ? colon : end) - p);
    if (!host_ok(p, hn))
        return url_refused(err, "host is not a DNS name or an IPv4 address");
    if (colon && !port_ok(colon + 1, (size_t)(end - colon - 1)))
        return url_refused(err, "bad port");
    if (http && !loopback_ip(p, hn))
        return url_refused(err, "http only for a loopback IP address (127.0.0.0/8)");
    if (!path_ok(end, strcspn(end, "?")))
        return url_refused(err, "dot segment in the path");
    return host ? lower_copy(a, p, hn, host, err) : MDT_OK;
}

bool mdt_cimd_is_url(const mdt_env *env, const char *client_id)
{
    return client_id && (strncmp(client_id, "https://", 8) == 0 ||
                         (env->cfg.cimd_allow_http_loopback && strncmp(client_id, "http://", 7) == 0));
}

/* ---------------------------------------------------------------- domains */

bool mdt_cimd_host_listed(const char *host, const char *list)
{
    size_t hn = host ? strlen(host) : 0;

    while (list && *list) {
        size_t n = strcspn(list, ",");
        if (n && list[0] == '.' && hn > n && strncasecmp(host + hn - n, list, n) == 0)
            return true;
        if (n && list[0] != '.' && hn == n && strncasecmp(host, list, n) == 0)
            return true;
        list += n + (list[n] == ',');
    }
    return false;
}

mdt_rc mdt_cimd_host_allowed(const mdt_config *cfg, const char *host, mdt_err *err)
{
    if (mdt_cimd_host_listed(host, cfg->cimd_deny_domains))
        return mdt_client_auth_fail(err, DOC " host %.100s is in cimd_deny_domains", host);
    if (cfg->cimd_allow_domains && *cfg->cimd_allow_domains &&
        !mdt_cimd_host_listed(host, cfg->cimd_allow_domains))
        return mdt_client_auth_fail(err, DOC " host %.100s is not in cimd_allow_domains", host);
    return MDT_OK;
}

/* ---------------------------------------------------------------- cache time */

/* The value of a Cache-Control directive: -1 absent, -2 present without a
 * number (or a directive without a value: 0), else its seconds. */
static int64_t directive(const char *cc, const char *name)
{
    size_t nl = strlen(name);

    while (cc && *cc) {
        size_t n = strcspn(cc, ",");
        const char *d = cc, *e = cc + n;
        while (d < e && (*d == ' ' || *d == '\t'))
            d++;
        if ((size_t)(e - d) >= nl && strncasecmp(d, name, nl) == 0 &&
            (d + nl == e || d[nl] == '=' || d[nl] == ' ')) {
            int64_t v = 0;
            const char *q = d + nl;
            if (q == e || *q == ' ')
                return 0;
            q += 1 + (q[1] == '"');
            if (q >= e || !isdigit((unsigned char)*q))
                return -2;
            for (; q < e && isdigit((unsigned char)*q); q++)
                v = v < SECONDS_MAX ? v * 10 + (*q - '0') : SECONDS_MAX;
            return v;
        }
        cc += n + (cc[n] == ',');
    }
    return -1;
}

static int64_t seconds(const char *s)
{
    int64_t v = 0;

    if (!isdigit((unsigned char)*s))
        return 0;
    for (; isdigit((unsigned char)*s); s++)
        v = v < SECONDS_MAX ? v * 10 + (*s - '0') : SECONDS_MAX;
    return v;
}

int64_t mdt_cimd_cache_ttl(const mdt_fetch_headers *h, int64_t now, int64_t min, int64_t max)
{
    int64_t ttl = min, age = seconds(h->age), max_age = directive(h->cache_control, "max-age");

    if (directive(h->cache_control, "no-store") != -1 ||
        directive(h->cache_control, "no-cache") != -1) {
        ttl = min;
    } else if (max_age >= 0) {
        ttl = max_age - age;
    } else if (max_age == -1 && h->expires[0]) {
        int64_t expires = mdt_fetch_http_date(h->expires), date = mdt_fetch_http_date(h->date);
        ttl = expires < 0 ? 0 : expires - (date >= 0 ? date : now) - age;
    }
    if (ttl > max)
        ttl = max;
    return ttl < min ? min : ttl;
}

/* ---------------------------------------------------------------- document */

static bool shared_secret_method(const char *m)
{
    return mdt_client_auth_method_is_secret(m) || strcmp(m, "client_secret_jwt") == 0;
}

static mdt_rc check_members(const char *url, json_t *doc, mdt_err *err)
{
    const char *id = json_string_value(json_object_get(doc, "client_id"));
    json_t *method = json_object_get(doc, "token_endpoint_auth_method");

    if (!id)
        return mdt_client_auth_fail(err, DOC " without a client_id string");
    if (strcmp(id, url) != 0)
        return mdt_client_auth_fail(err, DOC "'s client_id differs from its URL");
    if (json_object_get(doc, "client_secret") || json_object_get(doc, "client_secret_expires_at"))
        return mdt_client_auth_fail(err, DOC " holds a client_secret (a document is public)");
    if (method && !json_is_string(method))
        return mdt_client_auth_fail(err, DOC "'s token_endpoint_auth_method is not a string");
    if (method && shared_secret_method(json_string_value(method)))
        return mdt_client_auth_fail(err, DOC " names the shared-secret method %.40s",
                                    json_string_value(method));
    return MDT_OK;
}

mdt_rc mdt_cimd_document_check(const char *url, const char *json, size_t len, size_t max_bytes,
                               mdt_arena *a, const char **metadata, mdt_err *err)
{
    json_error_t jerr;
    json_t *doc = NULL;
    char *text = NULL;
    mdt_rc rc;

    *metadata = NULL;
    if (len > max_bytes)
        return mdt_client_auth_fail(err, DOC " larger than %zu bytes", max_bytes);
    if (!(doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)) || !json_is_object(doc)) {
        rc = mdt_client_auth_fail(err, DOC " is not a JSON object%s%.80s", doc ? "" : ": ",
                                  doc ? "" : jerr.text);
        goto out;
    }
    if ((rc = check_members(url, doc, err)) != MDT_OK)
        goto out;
    rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (!json_object_get(doc, "token_endpoint_auth_method") &&
        json_object_set_new(doc, "token_endpoint_auth_method", json_string("none")) != 0)
        goto out;
    if (!(text = json_dumps(doc, JSON_COMPACT)) || !(*metadata = mdt_arena_strdup(a, text)))
        goto out;
    rc = MDT_OK;
out:
    free(text);
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------- cache */

typedef struct {
    char *url;            /* NULL: free */
    uint64_t hash;
    int64_t fresh_until;  /* the document is current until then; 0: not */
    int64_t failed_until; /* the last failure is answered at once until then */
    int64_t settled_at;   /* when the last fetch ended (the "now" of the request that made it) */
    mdt_err error;        /* that failure */
    char *metadata;       /* the checked document (mdt_cimd_document_check); NULL: none */
    uint64_t generation;  /* of metadata: moves with every fetch that succeeded */
    uint64_t applied;     /* the generation last applied to the client row; 0: none */
    bool fetching;
    uint64_t used;        /* LRU tick */
    mdt_fetch_waiter *waiters; /* requests waiting for the fetch under way */
} entry;

struct mdt_cimd_cache {
    mdt_cimd_cache_opts o;
    pthread_mutex_t mu;
    pthread_cond_t fetched;
    uint64_t tick;
    uint64_t fetches;
    uint64_t generations;
    entry e[MDT_CIMD_CACHE_MAX];
};

typedef enum { USE, FAILED, FETCH } decision;

mdt_cimd_cache_opts mdt_cimd_cache_opts_from(const mdt_config *cfg)
{
    mdt_cimd_cache_opts o = {
        .fetch = {.kind = MDT_MK_METADATA, .timeout_ms = cfg->jwks_uri_timeout * 1000,
                  .max_bytes = (size_t)cfg->cimd_max_bytes,
                  .allow_http = cfg->cimd_allow_http_loopback,
                  .allow_private = cfg->jwks_uri_allow_private,
                  .ca_file = cfg->outbound_ca_file},
        .cache_min = cfg->cimd_cache_min,
        .cache_max = cfg->cimd_cache_max,
        .retry = cfg->jwks_uri_refetch_interval,
    };
    return o;
}

mdt_rc mdt_cimd_cache_new(const mdt_cimd_cache_opts *o, mdt_cimd_cache **out, mdt_err *err)
{
    mdt_cimd_cache *c = calloc(1, sizeof(*c));

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
    free(e->url);
    free(e->metadata);
    memset(e, 0, sizeof(*e));
}

void mdt_cimd_cache_free(mdt_cimd_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < MDT_CIMD_CACHE_MAX; i++)
        entry_clear(&c->e[i]);
    pthread_cond_destroy(&c->fetched);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t mdt_cimd_cache_fetches(mdt_cimd_cache *c)
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
static entry *find(mdt_cimd_cache *c, const char *url, uint64_t h)
{
    for (size_t i = 0; i < MDT_CIMD_CACHE_MAX; i++)
        if (c->e[i].url && c->e[i].hash == h && strcmp(c->e[i].url, url) == 0)
            return &c->e[i];
    return NULL;
}

/* Under the mutex: a free entry, else the least recently used one not being
 * fetched; NULL when none (or on NOMEM). */
static entry *add(mdt_cimd_cache *c, const char *url, uint64_t h)
{
    entry *victim = NULL;
    char *u;

    for (size_t i = 0; i < MDT_CIMD_CACHE_MAX; i++) {
        entry *e = &c->e[i];
        if (!e->url) {
            victim = e;
            break;
        }
        if (!e->fetching && (!victim || e->used < victim->used))
            victim = e;
    }
    if (!victim || !(u = mdt_strdup(url)))
        return NULL;
    entry_clear(victim);
    victim->url = u;
    victim->hash = h;
    return victim;
}

/* The outcome of a fetch made at now stands for requests of that time too,
 * whatever the cache times (zero included): a request run again after the
 * fetch it waited for uses that fetch, and never starts another. */
static decision decide(const entry *e, int64_t now)
{
    bool settled_now = e->settled_at != 0 && e->settled_at >= now;

    if (e->metadata && e->fresh_until != 0 && (e->fresh_until > now || settled_now))
        return USE;
    if (e->failed_until != 0 && (e->failed_until > now || settled_now))
        return FAILED;
    return FETCH;
}

bool mdt_cimd_cache_will_fetch(mdt_cimd_cache *c, const char *url, int64_t now)
{
    entry *e;
    bool fetch;

    pthread_mutex_lock(&c->mu);
    e = find(c, url, fnv1a(url));
    fetch = !e || (!e->fetching && decide(e, now) == FETCH);
    pthread_mutex_unlock(&c->mu);
    return fetch;
}

/* A fetch failure is the document owner's: invalid_client with the reason. */
static mdt_rc fetch_failed(const mdt_err *ferr, mdt_err *err)
{
    if (ferr->rc == MDT_ERR_NOMEM || ferr->rc == MDT_ERR_INTERNAL) {
        if (err)
            *err = *ferr;
        return ferr->rc;
    }
    return mdt_client_auth_fail(err, DOC ": fetch: %s", mdt_err_text(ferr));
}

/* The fetch options for url: an http URL (only ever a loopback one, let
 * through by the URL rules with the test switch) may reach loopback. */
static mdt_fetch_opts fetch_opts(const mdt_cimd_cache *c, const char *url)
{
    mdt_fetch_opts o = c->o.fetch;

    o.allow_private = o.allow_private || strncmp(url, "http://", 7) == 0;
    return o;
}

/* Outside the mutex: checks a fetch's outcome; *meta: the document (malloc). */
static mdt_rc check_fetched(const mdt_cimd_cache *c, const char *url, mdt_rc rc,
                            const mdt_buf *b, const mdt_fetch_headers *h, const mdt_err *ferr,
                            int64_t now, char **meta, int64_t *ttl, mdt_err *err)
{
    const char *m = NULL;
    mdt_arena a;

    *meta = NULL;
    if (rc != MDT_OK)
        return fetch_failed(ferr, err);
    mdt_arena_init(&a, 4096);
    rc = mdt_cimd_document_check(url, b->data ? b->data : "", b->len, c->o.fetch.max_bytes, &a,
                                 &m, err);
    if (rc == MDT_OK && !(*meta = mdt_strdup(m)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_arena_free(&a);
    *ttl = mdt_cimd_cache_ttl(h, now, c->o.cache_min, c->o.cache_max);
    return rc;
}

/* Under the mutex: records the outcome of a fetch (takes meta). */
static void settle(mdt_cimd_cache *c, entry *e, int64_t now, mdt_rc rc, char *meta, int64_t ttl,
                   const mdt_err *err)
{
    c->fetches++;
    e->fetching = false;
    e->failed_until = 0;
    e->settled_at = now;
    if (rc == MDT_OK) {
        bool same = e->metadata && strcmp(e->metadata, meta) == 0;
        e->fresh_until = now + ttl;
        if (same) {
            free(meta);
        } else {
            free(e->metadata);
            e->metadata = meta;
            e->generation = ++c->generations;
        }
        return;
    }
    free(meta);
    e->fresh_until = 0;
    if (rc == MDT_ERR_INVALID_CLIENT) {
        e->failed_until = now + c->o.retry;
        e->error = *err;
    } else {
        e->settled_at = 0; /* a server fault: the next request tries again */
    }
}

/* Under the mutex: what a caller gets from a current entry. */
static mdt_rc answer(const entry *e, mdt_arena *a, mdt_cimd_doc *doc, mdt_err *err)
{
    if (!(doc->metadata = mdt_arena_strdup(a, e->metadata)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    doc->generation = e->generation;
    doc->applied = e->applied == e->generation;
    return MDT_OK;
}

typedef struct {
    mdt_cimd_cache *c;
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

/* On the fetcher's thread: check, settle, wake the waiters. */
static void fetched(void *ctxp, mdt_rc rc, const mdt_buf *body, const mdt_fetch_headers *h,
                    const mdt_err *ferr)
{
    pending *p = ctxp;
    mdt_cimd_cache *c = p->c;
    mdt_fetch_waiter *waiters = NULL;
    mdt_err cerr = {0};
    char *meta = NULL;
    int64_t ttl = 0;
    entry *e;

    int64_t now = ended_at(p);

    rc = check_fetched(c, p->url, rc, body, h, ferr, now, &meta, &ttl, &cerr);
    pthread_mutex_lock(&c->mu);
    if ((e = find(c, p->url, p->hash))) {
        settle(c, e, now, rc, meta, ttl, &cerr);
        waiters = e->waiters;
        e->waiters = NULL;
    } else {
        free(meta);
    }
    pthread_cond_broadcast(&c->fetched);
    pthread_mutex_unlock(&c->mu);
    mdt_fetch_waiters_wake(waiters);
    free(p->url);
    free(p);
}

/* Under the mutex, e fetching and w its only waiter: hands the fetch to the
 * fetcher; when that fails, e is left as it was and w unregistered. */
static mdt_rc fetch_async(mdt_cimd_cache *c, entry *e, const char *url, uint64_t h, int64_t now,
                          mdt_fetch_waiter *w, mdt_err *err)
{
    mdt_fetch_opts o = fetch_opts(c, url);
    pending *p = calloc(1, sizeof(*p));
    mdt_err ferr = {0};
    mdt_rc rc = MDT_ERR_NOMEM;

    if (p && (p->url = mdt_strdup(url))) {
        p->c = c;
        p->hash = h;
        p->now = now;
        p->mono_ms = mdt_time_mono_ms();
        rc = mdt_fetcher_submit(c->o.fetcher, url, &o, "application/json", fetched, p, &ferr);
    } else {
        mdt_fail(&ferr, rc, "out of memory");
    }
    if (rc == MDT_OK) {
        w->registered = true;
        w->next = NULL;
        e->waiters = w;
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "waiting for the " DOC);
    }
    if (p)
        free(p->url);
    free(p);
    e->fetching = false;
    return rc == MDT_ERR_NOMEM ? mdt_fail(err, rc, "out of memory") : fetch_failed(&ferr, err);
}

/* Under the mutex (released meanwhile): fetches in this thread. */
static mdt_rc fetch_here(mdt_cimd_cache *c, entry **ep, const char *url, uint64_t h, int64_t now,
                         mdt_err *err)
{
    mdt_fetch_opts o = fetch_opts(c, url);
    mdt_fetch_headers hd;
    mdt_err ferr = {0}, cerr = {0};
    char *meta = NULL;
    int64_t ttl = 0;
    mdt_buf b;
    mdt_rc rc;

    memset(&hd, 0, sizeof(hd));
    (*ep)->fetching = true;
    pthread_mutex_unlock(&c->mu);
    mdt_buf_init(&b, o.max_bytes);
    rc = c->o.fetch_fn ? c->o.fetch_fn(c->o.fetch_ctx, url, &o, &b, &hd, &ferr)
                       : mdt_fetch_get_ex(url, &o, "application/json", &b, &hd, &ferr);
    rc = check_fetched(c, url, rc, &b, &hd, &ferr, now, &meta, &ttl, &cerr);
    mdt_buf_free(&b);
    pthread_mutex_lock(&c->mu);
    *ep = find(c, url, h); /* still there: entries being fetched are not evicted */
    settle(c, *ep, now, rc, meta, ttl, &cerr);
    pthread_cond_broadcast(&c->fetched);
    if (rc != MDT_OK && err)
        *err = cerr;
    return rc;
}

mdt_rc mdt_cimd_cache_resolve(mdt_cimd_cache *c, const char *url, int64_t now,
                              mdt_fetch_waiter *w, mdt_arena *a, mdt_cimd_doc *doc, mdt_err *err)
{
    uint64_t h = fnv1a(url);
    bool async = w && c->o.fetcher && !c->o.fetch_fn;
    entry *e;
    mdt_rc rc = MDT_OK;

    memset(doc, 0, sizeof(*doc));
    pthread_mutex_lock(&c->mu);
    while ((e = find(c, url, h)) && e->fetching && !async)
        pthread_cond_wait(&c->fetched, &c->mu);
    if (e && e->fetching) { /* join the fetch under way */
        w->registered = true;
        w->next = e->waiters;
        e->waiters = w;
        pthread_mutex_unlock(&c->mu);
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "waiting for the " DOC);
    }
    if (!e && !(e = add(c, url, h))) {
        pthread_mutex_unlock(&c->mu);
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, DOC " cache full");
    }
    e->used = ++c->tick;
    switch (decide(e, now)) {
    case USE:
        rc = answer(e, a, doc, err);
        break;
    case FAILED:
        if (err)
            *err = e->error;
        rc = e->error.rc;
        break;
    case FETCH:
        if (async) {
            e->fetching = true;
            rc = fetch_async(c, e, url, h, now, w, err);
        } else if ((rc = fetch_here(c, &e, url, h, now, err)) == MDT_OK) {
            rc = answer(e, a, doc, err);
        }
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void mdt_cimd_cache_applied(mdt_cimd_cache *c, const char *url, uint64_t generation)
{
    entry *e;

    pthread_mutex_lock(&c->mu);
    if ((e = find(c, url, fnv1a(url))) && e->generation == generation)
        e->applied = generation;
    pthread_mutex_unlock(&c->mu);
}

/* ---------------------------------------------------------------- resolution */

static mdt_rc meta_str(mdt_arena *a, json_t *m, const char *key, const char **out)
{
    const char *v = json_string_value(json_object_get(m, key));

    *out = NULL;
    if (v && !(*out = mdt_arena_strdup(a, v)))
        return MDT_ERR_NOMEM;
    return MDT_OK;
}

mdt_rc mdt_cimd_candidate(const char *client_id, const char *metadata, mdt_arena *a,
                          mdt_client *out, mdt_err *err)
{
    json_t *m = json_loads(metadata, 0, NULL), *w, *jwks;
    char *text = NULL;
    mdt_rc rc = MDT_ERR_NOMEM;

    memset(out, 0, sizeof(*out));
    if (!m)
        return mdt_fail(err, MDT_ERR_INTERNAL, DOC " unreadable");
    out->client_id = client_id;
    out->status = "active";
    out->origin = "cimd";
    w = json_object_get(m, "workload_identity");
    jwks = json_object_get(m, "jwks");
    if (meta_str(a, m, "token_endpoint_auth_method", &out->auth_method) ||
        meta_str(a, m, "token_endpoint_auth_signing_alg", &out->auth_signing_alg) ||
        meta_str(a, m, "jwks_uri", &out->jwks_uri) ||
        meta_str(a, m, "tls_client_auth_subject_dn", &out->tls_subject_dn) ||
        meta_str(a, m, "tls_client_auth_san_dns", &out->tls_san_dns) ||
        meta_str(a, m, "tls_client_auth_san_uri", &out->tls_san_uri) ||
        meta_str(a, m, "tls_client_auth_san_ip", &out->tls_san_ip) ||
        meta_str(a, m, "tls_client_auth_san_email", &out->tls_san_email) ||
        (json_is_object(w) && (meta_str(a, w, "issuer", &out->workload_issuer) ||
                               meta_str(a, w, "subject", &out->workload_subject))))
        goto out;
    if (json_is_object(jwks) &&
        (!(text = json_dumps(jwks, JSON_COMPACT)) || !(out->jwks = mdt_arena_strdup(a, text))))
        goto out;
    rc = MDT_OK;
out:
    free(text);
    json_decref(m);
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, rc, "out of memory");
}

/* cimd_fetches_per_source: a request that would fetch counts for its source. */
static mdt_rc source_rate(mdt_env *env, const mdt_req *req, mdt_err *err)
{
    char name[96];
    int64_t n = 0, window = req->now - req->now % 60;
    mdt_rc rc;

    if (!req->peer_ip || !*req->peer_ip)
        return MDT_OK;
    snprintf(name, sizeof(name), "cimd:fetch:%.64s", req->peer_ip);
    if ((rc = mdt_store_rate_hit(env->store, name, window, &n, err)) != MDT_OK)
        return rc;
    if (n > env->cfg.cimd_fetches_per_source)
        return mdt_client_auth_fail(err, DOC " fetches from %.64s beyond cimd_fetches_per_source "
                                         "this minute", req->peer_ip);
    return MDT_OK;
}

mdt_rc mdt_cimd_prepare(mdt_env *env, mdt_req *req, const char *client_id, mdt_cimd_doc *doc,
                        mdt_client *candidate, mdt_err *err)
{
    const char *host = NULL;
    mdt_rc rc;

    memset(doc, 0, sizeof(*doc));
    if (!env->cfg.cimd)
        return mdt_client_auth_fail(err, DOC "s are disabled ([registration] "
                                         "client_id_metadata_documents)");
    if ((rc = mdt_cimd_url_check(client_id, env->cfg.cimd_allow_http_loopback, req->arena, &host,
                                 err)) != MDT_OK ||
        (rc = mdt_cimd_host_allowed(&env->cfg, host, err)) != MDT_OK)
        return rc;
    if (!env->cimd)
        return mdt_fail(err, MDT_ERR_INTERNAL, DOC "s need the server's cache");
    if (mdt_cimd_cache_will_fetch(env->cimd, client_id, req->now) &&
        (rc = source_rate(env, req, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_cimd_cache_resolve(env->cimd, client_id, req->now, req->waiter, req->arena, doc,
                                     err)) != MDT_OK)
        return rc;
    return mdt_cimd_candidate(client_id, doc->metadata, req->arena, candidate, err);
}

/* A refusal of the registration service: invalid_client with its reason;
 * server faults keep their rc. */
static mdt_rc apply_failed(mdt_rc rc, const mdt_err *aerr, mdt_err *err)
{
    if (mdt_rc_is_server_fault(rc)) {
        if (err)
            *err = *aerr;
        return rc;
    }
    return mdt_client_auth_fail(err, DOC " refused: %s: %s", mdt_rc_name(rc), mdt_err_text(aerr));
}

/* Before a document creates its client: not one an admin deleted (unless
 * cimd_recreate_deleted), and within the registration rate limit. */
static mdt_rc may_create(mdt_env *env, mdt_req *req, const char *client_id, mdt_err *err)
{
    const mdt_reg_ctx reg = {.origin = "cimd", .source = req->peer_ip};
    int64_t retry = 0, deleted_at = 0;
    bool limited = false;
    mdt_rc rc = mdt_store_client_deleted_at(env->store, client_id, &deleted_at, err);

    if (rc != MDT_OK)
        return rc;
    if (deleted_at && !env->cfg.cimd_recreate_deleted)
        return mdt_client_auth_fail(err, "client deleted by an administrator; its " DOC
                                         " does not create it again (cimd_recreate_deleted)");
    if ((rc = mdt_registration_rate(env, &reg, req->now, &limited, &retry, err)) != MDT_OK)
        return rc;
    if (limited)
        return mdt_client_auth_fail(err, DOC " would register a client beyond the registration "
                                         "rate limit of %.64s", req->peer_ip);
    return MDT_OK;
}

/* Whether the stored client authenticates as the document's candidate did. */
static bool same_credentials(const mdt_client *a, const mdt_client *b)
{
    return mdt_str_eq(a->auth_method, b->auth_method) && !a->jwks == !b->jwks &&
           mdt_str_eq(a->jwks_uri, b->jwks_uri) &&
           mdt_str_eq(a->auth_signing_alg, b->auth_signing_alg) &&
           mdt_str_eq(a->workload_issuer, b->workload_issuer) &&
           mdt_str_eq(a->workload_subject, b->workload_subject) &&
           mdt_str_eq(a->tls_subject_dn, b->tls_subject_dn) &&
           mdt_str_eq(a->tls_san_dns, b->tls_san_dns) && mdt_str_eq(a->tls_san_uri, b->tls_san_uri) &&
           mdt_str_eq(a->tls_san_ip, b->tls_san_ip) &&
           mdt_str_eq(a->tls_san_email, b->tls_san_email);
}

mdt_rc mdt_cimd_register(mdt_env *env, mdt_req *req, const char *client_id,
                         const mdt_cimd_doc *doc, mdt_client *client, mdt_err *err)
{
    const mdt_reg_ctx reg = {.origin = "cimd", .source = req->peer_ip};
    mdt_client candidate = *client, cur;
    mdt_err aerr = {0};
    mdt_rc rc;

    /* applied and still there (an admin may have deleted it since): nothing to write */
    rc = mdt_client_load(env, client_id, req->now, req->arena, &cur, err);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rc = may_create(env, req, client_id, err);
    } else if (rc == MDT_OK && doc->applied) {
        *client = cur;
        goto check;
    }
    if (rc != MDT_OK)
        return rc;
    rc = mdt_registration_upsert_document(env, &req->ctx, client_id, doc->metadata,
                                          strlen(doc->metadata), &reg, req->arena, &aerr);
    if (rc != MDT_OK)
        return apply_failed(rc, &aerr, err);
    mdt_cimd_cache_applied(env->cimd, client_id, doc->generation);
    if ((rc = mdt_client_load(env, client_id, req->now, req->arena, client, err)) == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "unknown client");
    if (rc != MDT_OK)
        return rc;
check:
    if (!same_credentials(&candidate, client))
        return mdt_client_auth_fail(err, "the registered client does not authenticate as its "
                                         DOC " says");
    return MDT_OK;
}

mdt_rc mdt_cimd_resolve(mdt_env *env, mdt_req *req, const char *client_id, mdt_client *client,
                        mdt_err *err)
{
    mdt_cimd_doc doc;
    mdt_rc rc = mdt_cimd_prepare(env, req, client_id, &doc, client, err);

    return rc != MDT_OK ? rc : mdt_cimd_register(env, req, client_id, &doc, client, err);
}
