/* Client ID metadata documents (see cimd.h): the URL and document rules,
 * the cache time from HTTP headers, the per-URL cache and the resolution
 * that creates or refreshes the client. The cache is one table of
 * MDT_CIMD_CACHE_MAX entries behind one mutex, as the JWK Set cache's;
 * fetches, checks and the store write happen outside the mutex, and an
 * entry being fetched is never evicted, so waiters find it again. */
#include "oauth/cimd.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

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
    if (http && !(hn == 9 && strncmp(p, "127.0.0.1", 9) == 0))
        return url_refused(err, "http only for the host 127.0.0.1");
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
    int64_t fresh_until;  /* resolved and current until then; 0: not */
    int64_t failed_until; /* the last failure is answered at once until then */
    mdt_err error;        /* that failure */
    bool fetching;
    uint64_t used;        /* LRU tick */
} entry;

struct mdt_cimd_cache {
    mdt_cimd_cache_opts o;
    pthread_mutex_t mu;
    pthread_cond_t fetched;
    uint64_t tick;
    uint64_t fetches;
    entry e[MDT_CIMD_CACHE_MAX];
};

typedef enum { USE, FAILED, FETCH } decision;

mdt_cimd_cache_opts mdt_cimd_cache_opts_from(const mdt_config *cfg)
{
    mdt_cimd_cache_opts o = {
        .fetch = {.timeout_ms = cfg->jwks_uri_timeout * 1000,
                  .max_bytes = (size_t)cfg->cimd_max_bytes,
                  .allow_http = cfg->cimd_allow_http_loopback,
                  .allow_private = cfg->jwks_uri_allow_private},
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

void mdt_cimd_cache_free(mdt_cimd_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < MDT_CIMD_CACHE_MAX; i++)
        free(c->e[i].url);
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
    free(victim->url);
    memset(victim, 0, sizeof(*victim));
    victim->url = u;
    victim->hash = h;
    return victim;
}

static decision decide(const entry *e, int64_t now)
{
    if (e->fresh_until > now)
        return USE;
    if (e->failed_until > now)
        return FAILED;
    return FETCH;
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

/* Outside the mutex: fetch, check, apply. *ttl: the document's cache time. */
static mdt_rc refresh(const mdt_cimd_cache *c, const char *url, int64_t now, mdt_arena *a,
                      mdt_cimd_apply_fn apply, void *apply_ctx, int64_t *ttl, mdt_err *err)
{
    mdt_fetch_opts o = c->o.fetch;
    mdt_fetch_headers h;
    const char *meta = NULL;
    mdt_err ferr = {0};
    mdt_buf b;
    mdt_rc rc;

    memset(&h, 0, sizeof(h));
    o.allow_private = o.allow_private || strncmp(url, "http://", 7) == 0;
    mdt_buf_init(&b, o.max_bytes);
    rc = c->o.fetch_fn ? c->o.fetch_fn(c->o.fetch_ctx, url, &o, &b, &h, &ferr)
                       : mdt_fetch_get_ex(url, &o, "application/json", &b, &h, &ferr);
    if (rc != MDT_OK) {
        rc = fetch_failed(&ferr, err);
        goto out;
    }
    if ((rc = mdt_cimd_document_check(url, b.data ? b.data : "", b.len, o.max_bytes, a, &meta,
                                      err)) != MDT_OK)
        goto out;
    *ttl = mdt_cimd_cache_ttl(&h, now, c->o.cache_min, c->o.cache_max);
    if ((rc = apply(apply_ctx, url, meta, &ferr)) != MDT_OK)
        rc = apply_failed(rc, &ferr, err);
out:
    mdt_buf_free(&b);
    return rc;
}

/* Under the mutex: records the outcome of a refresh. */
static void settle(mdt_cimd_cache *c, entry *e, int64_t now, mdt_rc rc, int64_t ttl,
                   const mdt_err *err)
{
    c->fetches++;
    e->fetching = false;
    e->fresh_until = rc == MDT_OK ? now + ttl : 0;
    e->failed_until = 0;
    if (rc == MDT_ERR_INVALID_CLIENT) {
        e->failed_until = now + c->o.retry;
        e->error = *err;
    }
}

mdt_rc mdt_cimd_cache_resolve(mdt_cimd_cache *c, const char *url, int64_t now, mdt_arena *a,
                              mdt_cimd_apply_fn apply, void *apply_ctx, mdt_err *err)
{
    uint64_t h = fnv1a(url);
    mdt_err rerr = {0};
    int64_t ttl = 0;
    entry *e;
    mdt_rc rc = MDT_OK;

    pthread_mutex_lock(&c->mu);
    while ((e = find(c, url, h)) && e->fetching)
        pthread_cond_wait(&c->fetched, &c->mu);
    if (!e && !(e = add(c, url, h))) {
        pthread_mutex_unlock(&c->mu);
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, DOC " cache full");
    }
    e->used = ++c->tick;
    switch (decide(e, now)) {
    case USE:
        break;
    case FAILED:
        if (err)
            *err = e->error;
        rc = e->error.rc;
        break;
    case FETCH:
        e->fetching = true;
        pthread_mutex_unlock(&c->mu);
        rc = refresh(c, url, now, a, apply, apply_ctx, &ttl, &rerr);
        pthread_mutex_lock(&c->mu);
        e = find(c, url, h); /* still there: entries being fetched are not evicted */
        settle(c, e, now, rc, ttl, &rerr);
        pthread_cond_broadcast(&c->fetched);
        if (rc != MDT_OK && err)
            *err = rerr;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---------------------------------------------------------------- resolution */

typedef struct {
    mdt_env *env;
    mdt_arena *a;
} upsert_ctx;

static mdt_rc upsert(void *ctxp, const char *url, const char *metadata, mdt_err *err)
{
    upsert_ctx *u = ctxp;
    const mdt_reg_ctx ctx = {.origin = "cimd"};

    return mdt_registration_upsert_document(u->env, url, metadata, strlen(metadata), &ctx, u->a,
                                            err);
}

mdt_rc mdt_cimd_resolve(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                        mdt_err *err)
{
    upsert_ctx u = {.env = env, .a = a};
    const char *host = NULL;
    mdt_rc rc;

    if (!env->cfg.cimd)
        return mdt_client_auth_fail(err, DOC "s are disabled ([registration] "
                                         "client_id_metadata_documents)");
    if ((rc = mdt_cimd_url_check(client_id, env->cfg.cimd_allow_http_loopback, a, &host, err)) !=
            MDT_OK ||
        (rc = mdt_cimd_host_allowed(&env->cfg, host, err)) != MDT_OK)
        return rc;
    if (!env->cimd)
        return mdt_fail(err, MDT_ERR_INTERNAL, DOC "s need the server's cache");
    return mdt_cimd_cache_resolve(env->cimd, client_id, now, a, upsert, &u, err);
}

mdt_rc mdt_cimd_resolve_if_url(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                               mdt_err *err)
{
    if (!mdt_cimd_is_url(env, client_id))
        return MDT_OK;
    return mdt_cimd_resolve(env, client_id, now, a, err);
}
