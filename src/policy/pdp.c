/* Policy decision points (policy/pdp.h): the embedded Cedar PDP, or an
 * external one asked over the AuthZEN Authorization API 1.0
 * (/access/v1/evaluations) or an OPA data API, on the fetcher so that no
 * request thread waits, with a bounded decision cache. Whatever goes wrong
 * with an external PDP refuses: there is no path from a failure to an
 * allow. */
#include "policy/pdp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/fetch.h"
#include "policy/engine.h"
#include "policy/pdp_wire.h"

struct mdt_pdp {
    mdt_pdp_mode mode;
    char *url;                 /* where the call goes (AuthZEN: <url>/access/v1/evaluations) */
    char *ca_file;             /* [server] outbound_ca_file; NULL: the system's store */
    int64_t timeout_ms;
    int64_t cache_ttl;
    bool log_only;             /* [pdp] log_only */
    bool drop_denied;          /* [pdp] on_deny = drop */
    mdt_pdp_cache *cache;      /* NULL: no cache */
    mdt_fetcher *fetcher;      /* its calls, apart from client-caused fetches; NULL: embedded */
};

/* One call under way for a request; written by the fetcher's thread before
 * it wakes the request, read by the request's next pass. */
struct mdt_pdp_call {
    atomic_bool done;
    size_t n;                  /* questions asked */
    uint8_t (*keys)[MDT_SHA256_LEN];
    mdt_rc rc;
    mdt_err err;
    char *body;                /* the answer (malloc'ed), when rc is MDT_OK */
    size_t len;
    int64_t started_ms;
    mdt_fetch_waiter *waiter;
};

/* --------------------------------------------------------------- setup */

mdt_rc mdt_pdp_new(const mdt_config *cfg, mdt_pdp **out, mdt_err *err)
{
    int mode = mdt_pdp__mode_parse(cfg->pdp_mode);
    mdt_pdp *p;

    *out = NULL;
    if (mode < 0 || mode == MDT_PDP_OFF)
        return mdt_failf(err, MDT_ERR_CONFIG, "invalid configuration", "[pdp] mode %s",
                         cfg->pdp_mode ? cfg->pdp_mode : "(unset)");
    if (mode != MDT_PDP_EMBEDDED && !(cfg->pdp_url && *cfg->pdp_url))
        return mdt_fail(err, MDT_ERR_CONFIG, "[pdp] url must be set for an external PDP");
    if (!(p = calloc(1, sizeof(*p))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    p->mode = (mdt_pdp_mode)mode;
    p->timeout_ms = cfg->pdp_timeout * 1000;
    p->cache_ttl = cfg->pdp_cache_ttl;
    p->log_only = cfg->pdp_log_only;
    p->drop_denied = cfg->pdp_on_deny && strcmp(cfg->pdp_on_deny, "drop") == 0;
    if (mode == MDT_PDP_AUTHZEN) {
        size_t n = strlen(cfg->pdp_url);
        bool slash = n && cfg->pdp_url[n - 1] == '/';
        mdt_buf b;
        mdt_buf_init(&b, MDT_FETCH_URL_MAX + 64);
        if (mdt_buf_addf(&b, "%.*s/access/v1/evaluations", (int)(n - slash), cfg->pdp_url) ==
            MDT_OK)
            p->url = mdt_buf_take(&b);
        mdt_buf_free(&b);
    } else if (mode == MDT_PDP_OPA) {
        p->url = mdt_strdup(cfg->pdp_url);
    }
    if (cfg->outbound_ca_file && *cfg->outbound_ca_file &&
        !(p->ca_file = mdt_strdup(cfg->outbound_ca_file))) {
        mdt_pdp_free(p);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (mode != MDT_PDP_EMBEDDED && !p->url) {
        mdt_pdp_free(p);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (mode != MDT_PDP_EMBEDDED &&
        ((p->cache_ttl > 0 && mdt_pdp__cache_new(&p->cache, err) != MDT_OK) ||
         mdt_fetcher_start((int)cfg->pdp_max_concurrent, (int)cfg->pdp_max_concurrent,
                           &p->fetcher, err) != MDT_OK)) {
        mdt_pdp_free(p);
        return err ? err->rc : MDT_ERR_INTERNAL;
    }
    *out = p;
    return MDT_OK;
}

bool mdt_pdp_log_only(const mdt_pdp *p)
{
    return p && p->log_only;
}

bool mdt_pdp_drops_denied(const mdt_pdp *p)
{
    return p && p->drop_denied;
}

void mdt_pdp_stop(mdt_pdp *p)
{
    if (p)
        mdt_fetcher_stop(p->fetcher);
}

void mdt_pdp_free(mdt_pdp *p)
{
    if (!p)
        return;
    mdt_fetcher_free(p->fetcher);
    mdt_pdp__cache_free(p->cache);
    free(p->url);
    free(p->ca_file);
    free(p);
}

void mdt_pdp_call_free(struct mdt_pdp_call *c)
{
    if (!c)
        return;
    free(c->keys);
    free(c->body);
    free(c);
}

/* --------------------------------------------------------------- calls */

static mdt_fetch_opts call_opts(const mdt_pdp *p)
{
    /* The URL is the administrator's: http and private addresses are fine. */
    return (mdt_fetch_opts){.kind = MDT_MK_PDP, .timeout_ms = p->timeout_ms,
                            .max_bytes = MDT_PDP_ANSWER_MAX, .allow_http = true,
                            .allow_private = true, .ca_file = p->ca_file};
}

/* A failed call as the caller reports it: the public text says that the
 * PDP failed (fail closed); the detail says how. */
static mdt_rc call_failed(const mdt_pdp *p, const mdt_err *why, mdt_err *err)
{
    return mdt_failf(err, MDT_ERR_UNAVAILABLE,
                     "the policy decision point did not answer; access is refused",
                     "%s PDP at %.80s: %s", p->mode == MDT_PDP_OPA ? "OPA" : "AuthZEN", p->url,
                     mdt_err_text(why));
}

/* On the fetcher's thread: keeps the outcome with the request, then wakes
 * it (c may be freed as soon as the waiter is woken). */
static void call_done(void *ctx, mdt_rc rc, const mdt_buf *body, const mdt_fetch_headers *h,
                      const mdt_err *err)
{
    struct mdt_pdp_call *c = ctx;
    mdt_fetch_waiter *w = c->waiter;

    (void)h;
    c->rc = rc;
    if (rc != MDT_OK && err)
        c->err = *err;
    if (rc == MDT_OK && body && body->len) {
        if ((c->body = malloc(body->len + 1))) {
            memcpy(c->body, body->data, body->len);
            c->body[body->len] = '\0';
            c->len = body->len;
        } else {
            c->rc = mdt_fail(&c->err, MDT_ERR_NOMEM, "out of memory");
        }
    }
    atomic_store(&c->done, true);
    w->next = NULL;
    mdt_fetch_waiters_wake(w);
}

static mdt_metric_pdp metric_mode(const mdt_pdp *p)
{
    return p && p->mode == MDT_PDP_OPA ? MDT_MP_OPA : MDT_MP_AUTHZEN;
}

/* Reads an answer, keeps its decisions in the cache. */
static mdt_rc take_answer(mdt_env *env, const char *body, size_t len,
                          const uint8_t (*keys)[MDT_SHA256_LEN], size_t n, mdt_arena *a,
                          mdt_pdp_answer *out, mdt_err *err)
{
    mdt_pdp *p = mdt_env_pdp(env);
    mdt_err why = {0};
    int64_t now = mdt_now(&env->clock);

    if (mdt_pdp__parse_answer(p->mode, body, len, n, a, out, &why) != MDT_OK)
        return call_failed(p, &why, err);
    for (size_t i = 0; p->cache && i < n; i++)
        mdt_pdp__cache_put(p->cache, keys[i], now + p->cache_ttl, &out[i]);
    return MDT_OK;
}

/* The second pass of a request whose call has ended. */
static mdt_rc finish_call(mdt_env *env, mdt_req *req, mdt_arena *a, size_t n,
                          mdt_pdp_answer *out, mdt_err *err)
{
    struct mdt_pdp_call *c = req->pdp_call;
    mdt_rc rc;

    req->pdp_call = NULL;
    MDT_DEBUG("external PDP answered in %lld ms", (long long)(mdt_time_mono_ms() - c->started_ms));
    mdt_metrics_pdp(metric_mode(mdt_env_pdp(env)), (double)(mdt_time_mono_ms() - c->started_ms) / 1e3);
    if (!atomic_load(&c->done))
        rc = mdt_fail(err, MDT_ERR_INTERNAL, "a PDP call was read before it ended");
    else if (c->rc != MDT_OK)
        rc = call_failed(mdt_env_pdp(env), &c->err, err);
    else if (c->n != n)
        rc = mdt_fail(err, MDT_ERR_INTERNAL, "a request asked its PDP two different questions");
    else
        rc = take_answer(env, c->body ? c->body : "", c->len, (const uint8_t(*)[32])c->keys, n,
                         a, out, err);
    mdt_pdp_call_free(c);
    return rc;
}

/* Starts the call on the fetcher; MDT_ERR_UNAVAILABLE with the waiter
 * registered when it started. */
static mdt_rc start_call(mdt_env *env, mdt_req *req, const char *body,
                         uint8_t (*keys)[MDT_SHA256_LEN], size_t n, mdt_err *err)
{
    mdt_pdp *p = mdt_env_pdp(env);
    mdt_fetch_opts o = call_opts(p);
    struct mdt_pdp_call *c = calloc(1, sizeof(*c));
    mdt_err why = {0};

    if (!c)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    c->n = n;
    c->keys = keys;
    c->waiter = req->waiter;
    c->started_ms = mdt_time_mono_ms();
    req->pdp_call = c;
    req->waiter->registered = true;
    if (mdt_fetcher_submit_post(p->fetcher, p->url, &o, "application/json", body, call_done, c,
                                &why) != MDT_OK) {
        req->waiter->registered = false;
        req->pdp_call = NULL;
        mdt_pdp_call_free(c);
        return call_failed(p, &why, err);
    }
    return mdt_fail(err, MDT_ERR_UNAVAILABLE, "waiting for the policy decision point");
}

/* Asks the external PDP the questions the cache could not answer. */
static mdt_rc ask_external(mdt_env *env, mdt_req *req, mdt_arena *a, const mdt_pdp_query *q,
                           size_t n, uint8_t (*keys)[MDT_SHA256_LEN], mdt_pdp_answer *out,
                           mdt_err *err)
{
    mdt_pdp *p = mdt_env_pdp(env);
    mdt_fetch_opts o = call_opts(p);
    char *body = NULL;
    mdt_buf ans;
    mdt_err why = {0};
    int64_t t0;
    mdt_rc rc = mdt_pdp__request_body(p->mode, q, n, &body, err);

    if (rc != MDT_OK) {
        free(keys);
        return rc;
    }
    if (req && req->waiter && p->fetcher) {
        rc = start_call(env, req, body, keys, n, err); /* takes keys */
        free(body);
        return rc;
    }
    /* The command line: the call blocks. */
    mdt_buf_init(&ans, MDT_PDP_ANSWER_MAX);
    t0 = mdt_time_mono_ms();
    rc = mdt_fetch_post(p->url, &o, "application/json", body, &ans, &why);
    MDT_DEBUG("external PDP answered in %lld ms", (long long)(mdt_time_mono_ms() - t0));
    mdt_metrics_pdp(metric_mode(p), (double)(mdt_time_mono_ms() - t0) / 1e3);
    if (rc != MDT_OK)
        rc = call_failed(p, &why, err);
    else
        rc = take_answer(env, ans.data ? ans.data : "", ans.len,
                         (const uint8_t(*)[MDT_SHA256_LEN])keys, n, a, out, err);
    mdt_buf_free(&ans);
    free(body);
    free(keys);
    return rc;
}

/* An external PDP: the cache, else the request's call, else a new call. */
static mdt_rc decide_external(mdt_env *env, mdt_req *req, mdt_arena *a, const mdt_pdp_query *q,
                              size_t n, mdt_pdp_answer *out, mdt_err *err)
{
    mdt_pdp *p = mdt_env_pdp(env);
    uint8_t(*keys)[MDT_SHA256_LEN];
    int64_t now = mdt_now(&env->clock);
    size_t hits = 0;

    /* The answer of this request's own call, asked on its first pass: the
     * same request asks the same questions (its risk signals may have moved
     * in the meantime; the answer is to what was asked). */
    if (req && req->pdp_call)
        return finish_call(env, req, a, n, out, err);
    if (!(keys = calloc(n ? n : 1, sizeof(*keys))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        mdt_rc rc = mdt_pdp__query_key(&q[i], keys[i], err);
        if (rc != MDT_OK) {
            free(keys);
            return rc;
        }
        hits += p->cache && mdt_pdp__cache_get(p->cache, keys[i], now, a, &out[i]);
    }
    if (hits == n) {
        free(keys);
        return MDT_OK;
    }
    return ask_external(env, req, a, q, n, keys, out, err);
}

mdt_rc mdt_pdp_decide(mdt_env *env, mdt_req *req, mdt_arena *a, const mdt_pdp_query *q, size_t n,
                      mdt_pdp_answer *out, mdt_err *err)
{
    mdt_pdp *p = mdt_env_pdp(env);
    double t0;

    memset(out, 0, n * sizeof(*out));
    if (!p)
        return mdt_fail(err, MDT_ERR_INTERNAL, "no policy decision point is configured");
    if (n == 0)
        return MDT_OK;
    if (p->mode != MDT_PDP_EMBEDDED)
        return decide_external(env, req, a, q, n, out, err);
    t0 = mdt_time_real();
    for (size_t i = 0; i < n; i++) {
        mdt_rc rc = mdt_policy_eval(env, a, &q[i], &out[i], err);
        if (rc != MDT_OK)
            return rc;
    }
    mdt_metrics_pdp(MDT_MP_EMBEDDED, mdt_time_real() - t0);
    return MDT_OK;
}
