/* Webhook notifications (see webhooks.h). */
#include "iga/webhooks.h"

#include <jansson.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/ctx.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "iga/internal.h"
#include "iga/secret.h"
#include "net/post.h"

#define EVENT_ID_BYTES 12  /* "evt_" + 16 characters */
#define LEASE_SLACK 30     /* seconds a claim outlives the longest attempt */

typedef struct {
    char *url;
    uint8_t *secret;
    size_t secret_len;
} endpoint;

struct mdt_webhooks {
    endpoint *ep;
    size_t n;
    int64_t connect_timeout; /* seconds ([webhooks] connect_timeout) */
    int64_t timeout;         /* seconds for one delivery in all ([webhooks] timeout) */
};

void mdt_webhooks_set_timeouts(mdt_webhooks *w, int64_t connect_timeout, int64_t timeout)
{
    if (!w)
        return;
    w->connect_timeout = connect_timeout;
    w->timeout = timeout;
}

static mdt_rc bad(mdt_err *err, const char *path, size_t i, const char *why)
{
    return mdt_failf(err, MDT_ERR_CONFIG, "invalid [webhooks] endpoints file",
                     "%.200s: entry %zu: %s", path, i, why);
}

void mdt_webhooks_free(mdt_webhooks *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->ep[i].url);
        if (w->ep[i].secret)
            mdt_wipe(w->ep[i].secret, w->ep[i].secret_len);
        free(w->ep[i].secret);
    }
    free(w->ep);
    free(w);
}

/* The secret in file (relative to dir), without trailing white space. */
static const char *read_secret(const char *dir, const char *file, endpoint *ep)
{
    char path[4096];
    uint8_t buf[MDT_WEBHOOK_SECRET_MAX + 2];
    size_t n;
    FILE *f;

    if (!file || !*file)
        return "secret_file is required";
    if (snprintf(path, sizeof(path), "%s%s%s", file[0] == '/' ? "" : dir,
                 file[0] == '/' ? "" : "/", file) >= (int)sizeof(path))
        return "secret_file: path too long";
    if (!(f = fopen(path, "rb")))
        return "secret_file cannot be read";
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                 buf[n - 1] == '\t'))
        n--;
    if (n < MDT_WEBHOOK_SECRET_MIN || n > MDT_WEBHOOK_SECRET_MAX) {
        mdt_wipe(buf, sizeof(buf));
        return "the secret must be 16 to 4096 bytes";
    }
    if (!(ep->secret = malloc(n))) {
        mdt_wipe(buf, sizeof(buf));
        return "out of memory";
    }
    memcpy(ep->secret, buf, n);
    ep->secret_len = n;
    mdt_wipe(buf, sizeof(buf));
    return NULL;
}

static const char *read_entry(json_t *e, const char *dir, endpoint *ep)
{
    const char *key, *url = json_string_value(json_object_get(e, "url"));
    json_t *v;

    if (!json_is_object(e))
        return "an entry must be an object";
    json_object_foreach(e, key, v)
        if (strcmp(key, "url") != 0 && strcmp(key, "secret_file") != 0)
            return "unknown member (url, secret_file)";
    if (!url || strlen(url) > 2048 ||
        !(strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) ||
        strpbrk(url, " \t\r\n#"))
        return "url must be an http or https URL without fragment";
    if (!(ep->url = strdup(url)))
        return "out of memory";
    return read_secret(dir, json_string_value(json_object_get(e, "secret_file")), ep);
}

mdt_rc mdt_webhooks_load(const char *path, mdt_webhooks **out, mdt_err *err)
{
    mdt_webhooks *w = NULL;
    json_t *doc = NULL, *e;
    char *copy = NULL;
    const char *why;
    size_t i;
    mdt_rc rc;

    *out = NULL;
    if (!path || !*path)
        return MDT_OK;
    if ((rc = mdt_iga__read_config_array(path, "[webhooks] endpoints", MDT_WEBHOOKS_FILE_MAX,
                                         MDT_WEBHOOKS_MAX, "endpoints", &doc, err)) !=
        MDT_OK)
        return rc;
    if (!(w = calloc(1, sizeof(*w))) || !(copy = strdup(path)) ||
        !(w->ep = calloc(json_array_size(doc) + 1, sizeof(endpoint)))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(doc, i, e) {
        w->n = i + 1; /* freed with w, valid or not */
        if ((why = read_entry(e, dirname(copy), &w->ep[i]))) {
            rc = bad(err, path, i + 1, why);
            goto out;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(w->ep[j].url, w->ep[i].url) == 0) {
                rc = bad(err, path, i + 1, "duplicate url");
                goto out;
            }
    }
    if (w->n == 0) { /* an empty list: no webhooks */
        rc = MDT_OK;
        goto out;
    }
    w->connect_timeout = w->timeout = 10; /* until mdt_webhooks_set_timeouts */
    *out = w;
    w = NULL;
    rc = MDT_OK;
out:
    free(copy);
    json_decref(doc);
    mdt_webhooks_free(w);
    return rc;
}

mdt_rc mdt_webhook_sign(const uint8_t *secret, size_t secret_len, int64_t t, const char *body,
                        char hex[MDT_WEBHOOK_SIG_HEX + 1], mdt_err *err)
{
    static const char digits[] = "0123456789abcdef";
    static char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    uint8_t mac[32];
    size_t len = 0;
    char ts[24];
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *h = m ? EVP_MAC_CTX_new(m) : NULL;
    mdt_rc rc = MDT_ERR_CRYPTO;
    int n = snprintf(ts, sizeof(ts), "%lld.", (long long)t);

    hex[0] = '\0';
    if (!h || !EVP_MAC_init(h, secret, secret_len, params) ||
        !EVP_MAC_update(h, (const uint8_t *)ts, (size_t)n) ||
        !EVP_MAC_update(h, (const uint8_t *)body, strlen(body)) ||
        !EVP_MAC_final(h, mac, &len, sizeof(mac)) || len != sizeof(mac)) {
        mdt_fail_openssl(err, "webhook signature");
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[2 * len] = '\0';
    rc = MDT_OK;
out:
    EVP_MAC_CTX_free(h);
    EVP_MAC_free(m);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

int64_t mdt_webhook_backoff(int64_t initial, int64_t max, int64_t attempt)
{
    int64_t wait = initial < 1 ? 1 : initial;

    for (int64_t i = 1; i < attempt && wait < max; i++)
        wait = wait > INT64_MAX / 2 ? INT64_MAX : wait * 2;
    return wait > max ? max : wait;
}

mdt_rc mdt_iga__webhook_events(mdt_env *env, const char *type, json_t *item, int64_t now,
                               mdt_arena *a, mdt_outbox_rec **ev, size_t *nev, mdt_err *err)
{
    const mdt_webhooks *w = mdt_env_webhooks(env);
    const char *event_id = NULL, *body = NULL;
    json_t *doc;
    mdt_rc rc;

    *ev = NULL;
    *nev = 0;
    if (!w || w->n == 0)
        return MDT_OK;
    if ((rc = mdt_random_id(&env->rng, "evt_", EVENT_ID_BYTES, a, &event_id, err)) != MDT_OK)
        return rc;
    doc = json_pack("{s:s, s:s, s:o, s:O}", "id", event_id, "type", type, "time",
                    mdt_iga__time_json(now), "item", item);
    if ((rc = mdt_iga__dump_take(doc, a, &body, err)) != MDT_OK)
        return rc;
    if (!(*ev = mdt_arena_alloc(a, w->n * sizeof(**ev))))
        return mdt_iga__nomem(err);
    for (size_t i = 0; i < w->n; i++) {
        mdt_outbox_rec *r = &(*ev)[i];
        if ((rc = mdt_random_id(&env->rng, "obx_", EVENT_ID_BYTES, a, &r->id, err)) != MDT_OK)
            return rc;
        r->event_id = event_id;
        r->url = w->ep[i].url;
        r->body = body;
        r->created_at = r->next_at = now;
    }
    *nev = w->n;
    return MDT_OK;
}

static const endpoint *endpoint_of(const mdt_webhooks *w, const char *url)
{
    for (size_t i = 0; w && i < w->n; i++)
        if (strcmp(w->ep[i].url, url) == 0)
            return &w->ep[i];
    return NULL;
}

/* One attempt: MDT_OK when the endpoint answered 2xx. */
static mdt_rc attempt(mdt_env *env, const mdt_webhooks *w, const endpoint *ep,
                      const mdt_outbox_rec *d, const atomic_bool *cancel, long *status,
                      mdt_err *err)
{
    char hex[MDT_WEBHOOK_SIG_HEX + 1], sig[160], evh[160];
    const char *headers[] = {sig, evh, NULL};
    int64_t t = mdt_now(&env->clock);
    mdt_post_opts o = {.connect_timeout_ms = w->connect_timeout * 1000,
                       .timeout_ms = w->timeout * 1000, .cancel = cancel,
                       .ca_file = env->cfg.outbound_ca_file};
    mdt_rc rc = mdt_webhook_sign(ep->secret, ep->secret_len, t, d->body, hex, err);

    if (rc != MDT_OK)
        return rc;
    snprintf(sig, sizeof(sig), "Mandate-Signature: t=%lld,v1=%s", (long long)t, hex);
    snprintf(evh, sizeof(evh), "Mandate-Event-Id: %.100s", d->event_id);
    if ((rc = mdt_post_json(d->url, headers, d->body, &o, status, err)) != MDT_OK) {
        mdt_metrics_fetch(MDT_MK_WEBHOOK, MDT_MO_FAILED);
        return rc;
    }
    mdt_metrics_fetch(MDT_MK_WEBHOOK, *status >= 200 && *status < 300 ? MDT_MO_OK
                                                                       : MDT_MO_HTTP_ERROR);
    if (*status >= 200 && *status < 300)
        return MDT_OK;
    return mdt_failf(err, MDT_ERR_UNAVAILABLE, "the webhook refused the notification",
                     "HTTP status %ld", *status);
}

/* Gives a delivery up: removed, and audited. */
static mdt_rc drop(mdt_env *env, const mdt_outbox_rec *d, const char *why, mdt_err *err)
{
    mdt_arena a;
    mdt_ctx_events events;
    mdt_ctx ctx;
    json_t *data = json_pack("{s:s, s:s, s:I, s:s}", "event_id", d->event_id, "url", d->url,
                             "attempts", (json_int_t)d->attempts, "reason", why);
    mdt_rc rc;

    mdt_arena_init(&a, 2048);
    mdt_ctx_events_init(&events, &a);
    mdt_ctx_init(&ctx, &events, "server", mdt_now(&env->clock), NULL, NULL);
    rc = mdt_iga__audit_json(&ctx, "webhook.dropped", NULL, data, err);
    if (rc == MDT_OK)
        rc = mdt_ctx_commit(env, &ctx, err);
    if (rc == MDT_OK)
        rc = mdt_store_outbox_delete(env->store, d->id, err);
    mdt_arena_free(&a);
    MDT_WARN("webhook notification %s to %s dropped: %s", d->event_id, d->url, why);
    return rc;
}

mdt_rc mdt_webhooks_deliver_one(mdt_env *env, const atomic_bool *cancel, bool *did, mdt_err *err)
{
    const mdt_webhooks *w = mdt_env_webhooks(env);
    int64_t now = mdt_now(&env->clock), next;
    int64_t lease = now + (w ? w->timeout + w->connect_timeout : 0) + LEASE_SLACK;
    mdt_outbox_rec *d = NULL;
    const endpoint *ep;
    size_t n = 0;
    long status = 0;
    mdt_err aerr = {0};
    mdt_arena a;
    mdt_rc rc;

    *did = false;
    mdt_arena_init(&a, 4096);
    if ((rc = mdt_store_outbox_claim(env->store, now, lease, 1, &a, &d, &n, err)) != MDT_OK ||
        n == 0)
        goto out;
    *did = true;
    if (!(ep = endpoint_of(w, d->url))) {
        rc = drop(env, d, "the endpoint is no longer configured", err);
        goto out;
    }
    if (attempt(env, w, ep, d, cancel, &status, &aerr) == MDT_OK) {
        rc = mdt_store_outbox_delete(env->store, d->id, err);
        goto out;
    }
    if (cancel && atomic_load(cancel)) { /* stopping: the attempt does not count */
        rc = mdt_store_outbox_retry(env->store, d->id, now, err);
        goto out;
    }
    now = mdt_now(&env->clock);
    next = now + mdt_webhook_backoff(env->cfg.webhooks_retry_initial, env->cfg.webhooks_retry_max,
                                     d->attempts);
    MDT_INFO("webhook notification %s to %s failed (attempt %lld): %s", d->event_id, d->url,
             (long long)d->attempts, mdt_err_text(&aerr));
    if (next - d->created_at > env->cfg.webhooks_retry_for)
        rc = drop(env, d, "still failing after [webhooks] retry_for", err);
    else
        rc = mdt_store_outbox_retry(env->store, d->id, next, err);
out:
    mdt_arena_free(&a);
    return rc;
}
