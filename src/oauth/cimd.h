/* Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document,
 * preferred by the MCP authorization specification): a client_id that is an
 * https URL names its own metadata.
 *
 * Resolution, at client authentication: the URL must follow the draft's
 * rules (mdt_cimd_url_check) and pass [registration] cimd_allow_domains and
 * cimd_deny_domains; the document is fetched (net/fetch.h: SSRF-safe, no
 * redirects, at most cimd_max_bytes, within [client_auth] jwks_uri_timeout),
 * must be a JSON object whose client_id equals the URL exactly, may hold no
 * client_secret and no shared-secret authentication method (a document is
 * public), and then creates or refreshes the client through
 * mdt_registration_upsert_document (the same metadata validation and
 * registration policy as any self-registered client, origin "cimd").
 *
 * Caching: one process-wide table of at most MDT_CIMD_CACHE_MAX URLs. A
 * resolved document is current for the time its HTTP caching headers give
 * (mdt_cimd_cache_ttl), clamped to [cimd_cache_min, cimd_cache_max]; within
 * it, authentication needs no fetch. Then it is fetched again; while a
 * fetch fails (or its document is refused) the client cannot authenticate,
 * and the failure is answered at once for [client_auth]
 * jwks_uri_refetch_interval so that nobody can make Mandate hammer a URL.
 * Requests for a URL being fetched wait for that one fetch.
 *
 * Threads: any number of threads may use one cache (one mutex, held only
 * for lookups, never across a fetch). */
#ifndef MDT_OAUTH_CIMD_H
#define MDT_OAUTH_CIMD_H

#include <stdbool.h>
#include <stdint.h>

#include "app/env.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/mdt.h"
#include "net/fetch.h"

#define MDT_CIMD_CACHE_MAX 1024 /* document URLs cached at once */

/* True when client_id has the form of a document URL (https://..., or
 * http://... when [registration] cimd_allow_http_loopback); whether it is
 * an acceptable one is mdt_cimd_url_check's business. */
bool mdt_cimd_is_url(const mdt_env *env, const char *client_id);
/* Makes sure the client named by a document URL exists and is current:
 * fetches the document when it is not cached (SSRF-safe, size-capped,
 * cached per its HTTP caching headers within cimd_cache_min/max), checks
 * that its client_id equals the URL and the domain lists, and creates or
 * refreshes the client through mdt_registration_upsert_document. Failures
 * are MDT_ERR_INVALID_CLIENT (the caller answers invalid_client) with the
 * reason in the detail ("client ID metadata document: ..."); server faults
 * (storage, memory) keep their rc. Uses env->cimd (set by serve). */
mdt_rc mdt_cimd_resolve(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                        mdt_err *err) MDT_WARN_UNUSED;
/* mdt_cimd_resolve when client_id is a document URL; MDT_OK otherwise
 * (client_id NULL included). For the client authentication methods. */
mdt_rc mdt_cimd_resolve_if_url(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                               mdt_err *err) MDT_WARN_UNUSED;

/* --- the rules, as pure functions --- */

/* The draft's client identifier URL (§3): scheme https (or http with the
 * host 127.0.0.1 when allow_http_loopback), a host that is a DNS name or
 * an IPv4 address (no IPv6 literal), an optional port, a path, an optional
 * query; no fragment, no user name or password, no "." or ".." path
 * segment (percent-encoded ones included), printable ASCII only, at most
 * MDT_FETCH_URL_MAX bytes. *host (may be NULL): the host, lower-cased, in a.
 * MDT_ERR_INVALID_CLIENT with the rule broken in the detail. */
mdt_rc mdt_cimd_url_check(const char *url, bool allow_http_loopback, mdt_arena *a,
                          const char **host, mdt_err *err) MDT_WARN_UNUSED;
/* Whether host is named by list (comma-separated, as [registration]
 * cimd_allow_domains): an entry "example.com" names that host exactly, an
 * entry ".example.com" every host under it (not example.com itself).
 * ASCII case is ignored. */
bool mdt_cimd_host_listed(const char *host, const char *list);
/* cimd_deny_domains refuses; a non-empty cimd_allow_domains must name the
 * host. MDT_ERR_INVALID_CLIENT with the reason in the detail. */
mdt_rc mdt_cimd_host_allowed(const mdt_config *cfg, const char *host, mdt_err *err) MDT_WARN_UNUSED;
/* Seconds a document fetched at now may be used, from its headers (RFC
 * 9111): Cache-Control no-store or no-cache -> min; else max-age minus Age;
 * else Expires minus Date (or now) minus Age (an invalid Expires is in the
 * past); no caching header -> min. The result is clamped to [min, max]
 * (min wins when max < min). */
int64_t mdt_cimd_cache_ttl(const mdt_fetch_headers *h, int64_t now, int64_t min, int64_t max);
/* A fetched document (len bytes, at most max_bytes) for url: a JSON object
 * without duplicate members; client_id equal to url (simple string
 * comparison); no client_secret or client_secret_expires_at; a
 * token_endpoint_auth_method that is not a shared-secret one
 * (client_secret_basic, client_secret_post, client_secret_jwt), "none" when
 * absent. *metadata: the document as JSON text (in a) with that method set.
 * MDT_ERR_INVALID_CLIENT with the reason in the detail. */
mdt_rc mdt_cimd_document_check(const char *url, const char *json, size_t len, size_t max_bytes,
                               mdt_arena *a, const char **metadata, mdt_err *err) MDT_WARN_UNUSED;

/* --- the cache --- */

/* Fetches url into out and its caching headers into h (tests inject their own). */
typedef mdt_rc (*mdt_cimd_fetch_fn)(void *ctx, const char *url, const mdt_fetch_opts *o,
                                    mdt_buf *out, mdt_fetch_headers *h, mdt_err *err);
/* Applies a checked document (mdt_cimd_document_check's *metadata) for url:
 * in the server, mdt_registration_upsert_document. */
typedef mdt_rc (*mdt_cimd_apply_fn)(void *ctx, const char *url, const char *metadata,
                                    mdt_err *err);

typedef struct {
    mdt_fetch_opts fetch;      /* timeout, max_bytes, allow_http, allow_private (https URLs) */
    int64_t cache_min, cache_max; /* seconds, the bounds of mdt_cimd_cache_ttl */
    int64_t retry;             /* seconds a refused document or failed fetch is answered at once */
    mdt_cimd_fetch_fn fetch_fn; /* NULL: mdt_fetch_get_ex */
    void *fetch_ctx;
} mdt_cimd_cache_opts;

typedef struct mdt_cimd_cache mdt_cimd_cache;

/* The options of [registration] and [client_auth]. */
mdt_cimd_cache_opts mdt_cimd_cache_opts_from(const mdt_config *cfg);
mdt_rc mdt_cimd_cache_new(const mdt_cimd_cache_opts *o, mdt_cimd_cache **out,
                          mdt_err *err) MDT_WARN_UNUSED;
void mdt_cimd_cache_free(mdt_cimd_cache *c); /* NULL-safe */
/* Makes sure the document at url (already checked by mdt_cimd_url_check)
 * is current at now: cached and fresh -> MDT_OK at once; a failure within
 * retry -> that failure again; else fetched (an http URL, only ever a
 * loopback one, is fetched with private addresses allowed), checked
 * (mdt_cimd_document_check) and applied. Errors as mdt_cimd_resolve's;
 * server faults of apply are not remembered. */
mdt_rc mdt_cimd_cache_resolve(mdt_cimd_cache *c, const char *url, int64_t now, mdt_arena *a,
                              mdt_cimd_apply_fn apply, void *apply_ctx,
                              mdt_err *err) MDT_WARN_UNUSED;
/* Number of fetches made so far (tests, metrics). */
uint64_t mdt_cimd_cache_fetches(mdt_cimd_cache *c);

#endif
