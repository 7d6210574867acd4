/* A process-wide cache of JWK Sets, keyed by URL (a client's jwks_uri, a
 * trusted issuer's jwks_uri) or by the SHA-256 of a registered "jwks"
 * document, so that no request parses a key twice or fetches a URL more
 * often than the configuration allows:
 *   - a fetched set is used for ttl seconds, then fetched again;
 *   - an assertion naming an unknown kid may cause one refetch per URL per
 *     refetch_interval (key rotation without waiting for the ttl), and no
 *     more (an attacker cannot make Mandate hammer a URL);
 *   - a failed fetch is remembered for refetch_interval: requests meanwhile
 *     fail at once with the same reason instead of waiting on the URL again;
 *   - requests for a URL being fetched wait for that one fetch: with a
 *     fetcher and a waiter, without holding their thread (the cache answers
 *     MDT_ERR_UNAVAILABLE at once with the waiter registered, and wakes it
 *     when the outcome is cached); otherwise blocked on a condition;
 *   - at most MDT_JWKS_CACHE_MAX entries, the least recently used evicted.
 *
 * Threads: any number of threads may call it at once (one mutex, held
 * only for lookups, never across a fetch). Keysets handed out are
 * references: release each with mdt_keyset_unref. */
#ifndef MDT_OAUTH_JWKS_CACHE_H
#define MDT_OAUTH_JWKS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/mdt.h"
#include "net/fetch.h"
#include "oauth/assertion.h"

#define MDT_JWKS_CACHE_MAX 1024 /* URLs and registered sets cached at once */

/* Fetches url into out (unit tests inject their own). */
typedef mdt_rc (*mdt_jwks_fetch_fn)(void *ctx, const char *url, mdt_buf *out, mdt_err *err);

typedef struct {
    int64_t ttl;               /* seconds a fetched set is used */
    int64_t refetch_interval;  /* seconds between two fetches of a URL out of turn */
    mdt_fetch_opts fetch;      /* limits of mdt_fetch_get */
    mdt_jwks_fetch_fn fetch_fn; /* NULL: mdt_fetch_get with .fetch */
    void *fetch_ctx;
    mdt_fetcher *fetcher;      /* borrowed; NULL: fetch in the calling thread */
} mdt_jwks_cache_opts;

typedef struct mdt_jwks_cache mdt_jwks_cache;

mdt_rc mdt_jwks_cache_new(const mdt_jwks_cache_opts *o, mdt_jwks_cache **out,
                          mdt_err *err) MDT_WARN_UNUSED;
/* The options of [client_auth] (and [server] outbound_ca_file, borrowed from cfg). */
mdt_jwks_cache_opts mdt_jwks_cache_opts_from(const mdt_config *cfg);
void mdt_jwks_cache_free(mdt_jwks_cache *c); /* NULL-safe; outstanding references stay valid */

/* The keys at url at now. refresh: the caller met an unknown kid in the
 * current set; fetch again if the last fetch is refetch_interval old.
 * Errors of the fetch (mdt_fetch_get) or of the document
 * (MDT_ERR_INVALID_REQUEST: not a JWK Set) come back with their detail.
 * w (may be NULL): when a fetch is needed and the cache has a fetcher, w
 * is registered (w->registered) and MDT_ERR_UNAVAILABLE returned at once;
 * ask again once woken. */
mdt_rc mdt_jwks_cache_get(mdt_jwks_cache *c, const char *url, int64_t now, bool refresh,
                          mdt_fetch_waiter *w, mdt_keyset **out, mdt_err *err) MDT_WARN_UNUSED;
/* A registered JWK Set (JSON text), parsed once per distinct content. */
mdt_rc mdt_jwks_cache_inline(mdt_jwks_cache *c, const char *json, mdt_keyset **out,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Where the keys of an assertion come from: exactly one of the three. */
typedef struct {
    const char *jwks;     /* a registered JWK Set, JSON text */
    const char *uri;      /* a jwks_uri, through the cache */
    mdt_keyset *fixed;    /* a set loaded from configuration (borrowed) */
    mdt_fetch_waiter *wait; /* for a uri: wait without blocking (mdt_jwks_cache_get) */
} mdt_key_source;

/* Verifies a's signature with the keys of src (c may be NULL except for a
 * uri). An unknown kid in a uri's set asks the cache once for a refetch.
 * thumb gets the RFC 7638 thumbprint of the key that verified. Failures
 * that are the key owner's (fetch refused, timed out, too large, not a JWK
 * Set; unknown kid; bad signature) -> MDT_ERR_VERIFY with the reason in
 * the detail ("jwks_uri: fetch timed out ..."); server faults keep their rc. */
mdt_rc mdt_jwks_verify(mdt_jwks_cache *c, const mdt_assertion *a, const mdt_key_source *src,
                       int64_t now, uint8_t thumb[32], mdt_err *err) MDT_WARN_UNUSED;
/* Number of fetches made so far (tests, metrics). */
uint64_t mdt_jwks_cache_fetches(mdt_jwks_cache *c);

#endif
