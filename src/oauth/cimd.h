/* Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document,
 * preferred by the MCP authorization specification): a client_id that is an
 * https URL names its own metadata.
 *
 * Resolution, at client authentication, in two steps:
 *   1. mdt_cimd_prepare: the URL must follow the draft's rules
 *      (mdt_cimd_url_check) and pass [registration] cimd_allow_domains and
 *      cimd_deny_domains; a request that would fetch counts against
 *      cimd_fetches_per_source for its address; the document is fetched
 *      (net/fetch.h: SSRF-safe, no redirects, at most cimd_max_bytes, within
 *      [client_auth] jwks_uri_timeout) without holding the request's thread,
 *      must be a JSON object whose client_id equals the URL exactly, may hold
 *      no client_secret and no shared-secret authentication method (a
 *      document is public). The caller gets the document as a candidate
 *      client (its keys, method, certificate subject, workload identity) and
 *      authenticates the request against it. Nothing is stored.
 *   2. mdt_cimd_register, only once the request authenticated: creates or
 *      refreshes the client row through mdt_registration_upsert_document
 *      (the same metadata validation and registration policy as any
 *      self-registered client, origin "cimd"). A new client counts against
 *      the registration rate limit of the source, and a client that an admin
 *      deleted is not created again unless [registration]
 *      cimd_recreate_deleted (its earlier tokens stay inactive either way).
 *
 * Caching: one process-wide table of at most MDT_CIMD_CACHE_MAX URLs. A
 * checked document is current for the time its HTTP caching headers give
 * (mdt_cimd_cache_ttl), clamped to [cimd_cache_min, cimd_cache_max]; within
 * it, authentication needs no fetch (and, once applied, no store write).
 * Then it is fetched again; while a fetch fails (or its document is
 * refused) the client cannot authenticate, and the failure is answered at
 * once for [client_auth] jwks_uri_refetch_interval so that nobody can make
 * Mandate hammer a URL. Requests for a URL being fetched wait for that one
 * fetch (suspended in the server, blocked elsewhere).
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
#include "iga/client.h"
#include "msg/msg.h"
#include "net/fetch.h"

#define MDT_CIMD_CACHE_MAX 1024 /* document URLs cached at once */

/* True when client_id has the form of a document URL (https://..., or
 * http://... when [registration] cimd_allow_http_loopback); whether it is
 * an acceptable one is mdt_cimd_url_check's business. */
bool mdt_cimd_is_url(const mdt_env *env, const char *client_id);
/* A checked document of the cache. */
typedef struct {
    const char *metadata; /* the document as JSON text (mdt_cimd_document_check's) */
    uint64_t generation;  /* moves when the document changes */
    bool applied;         /* this generation is already in the client row */
} mdt_cimd_doc;

/* Step 1 (see above): *doc and *candidate (in req->arena) for client_id,
 * a document URL. Failures are MDT_ERR_INVALID_CLIENT (the caller answers
 * invalid_client) with the reason in the detail ("client ID metadata
 * document: ..."); server faults (storage, memory) keep their rc. With
 * req->waiter and a fetch needed: MDT_ERR_UNAVAILABLE with the waiter
 * registered. Uses env->cimd (set by serve). */
mdt_rc mdt_cimd_prepare(mdt_env *env, mdt_req *req, const char *client_id, mdt_cimd_doc *doc,
                        mdt_client *candidate, mdt_err *err) MDT_WARN_UNUSED;
/* Step 2, after the request authenticated as candidate (*client on entry):
 * creates or refreshes the client row when the document is not applied
 * yet, then loads it into *client; refused (invalid_client) when the row
 * would not authenticate as the candidate did. */
mdt_rc mdt_cimd_register(mdt_env *env, mdt_req *req, const char *client_id,
                         const mdt_cimd_doc *doc, mdt_client *client, mdt_err *err) MDT_WARN_UNUSED;
/* Steps 1 and 2 where no client authentication takes place (the
 * authorization endpoint: a person signs in and consents, and the code is
 * redeemed later with the client's own authentication, or its PKCE
 * verifier for a public client): the document is fetched and checked as
 * in step 1, then its client row created or refreshed as in step 2, and
 * loaded into *client. Failures as mdt_cimd_prepare's (MDT_ERR_UNAVAILABLE
 * with the waiter registered while a fetch is under way). */
mdt_rc mdt_cimd_resolve(mdt_env *env, mdt_req *req, const char *client_id, mdt_client *client,
                        mdt_err *err) MDT_WARN_UNUSED;
/* The candidate of a checked document: id, status "active", origin
 * "cimd", and what authentication reads (method, signing alg, jwks,
 * jwks_uri, certificate subject, workload identity); strings in a. */
mdt_rc mdt_cimd_candidate(const char *client_id, const char *metadata, mdt_arena *a,
                          mdt_client *out, mdt_err *err) MDT_WARN_UNUSED;

/* --- the rules, as pure functions --- */

/* The draft's client identifier URL (§3): scheme https (or http with the
 * host in 127.0.0.0/8 when allow_http_loopback), a host that is a DNS name or
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

typedef struct {
    mdt_fetch_opts fetch;      /* timeout, max_bytes, allow_http, allow_private (https URLs) */
    int64_t cache_min, cache_max; /* seconds, the bounds of mdt_cimd_cache_ttl */
    int64_t retry;             /* seconds a refused document or failed fetch is answered at once */
    mdt_cimd_fetch_fn fetch_fn; /* NULL: mdt_fetch_get_ex */
    void *fetch_ctx;
    mdt_fetcher *fetcher;      /* borrowed; NULL: fetch in the calling thread */
} mdt_cimd_cache_opts;

typedef struct mdt_cimd_cache mdt_cimd_cache;

/* The options of [registration] and [client_auth] (and [server] outbound_ca_file,
 * borrowed from cfg). */
mdt_cimd_cache_opts mdt_cimd_cache_opts_from(const mdt_config *cfg);
mdt_rc mdt_cimd_cache_new(const mdt_cimd_cache_opts *o, mdt_cimd_cache **out,
                          mdt_err *err) MDT_WARN_UNUSED;
void mdt_cimd_cache_free(mdt_cimd_cache *c); /* NULL-safe */
/* The checked document at url (already checked by mdt_cimd_url_check) at
 * now: cached and fresh -> at once; a failure within retry -> that failure
 * again; else fetched (an http URL, only ever a loopback one, is fetched
 * with private addresses allowed) and checked (mdt_cimd_document_check).
 * With a fetcher and w: the fetch runs on the fetcher, w is registered and
 * MDT_ERR_UNAVAILABLE returned at once; ask again once woken. Without:
 * fetched in this thread. *doc in a. Errors as mdt_cimd_prepare's. */
mdt_rc mdt_cimd_cache_resolve(mdt_cimd_cache *c, const char *url, int64_t now,
                              mdt_fetch_waiter *w, mdt_arena *a, mdt_cimd_doc *doc,
                              mdt_err *err) MDT_WARN_UNUSED;
/* Whether mdt_cimd_cache_resolve at now would start a fetch. */
bool mdt_cimd_cache_will_fetch(mdt_cimd_cache *c, const char *url, int64_t now);
/* Records that generation of url's document is in the client row. */
void mdt_cimd_cache_applied(mdt_cimd_cache *c, const char *url, uint64_t generation);
/* Number of fetches made so far (tests, metrics). */
uint64_t mdt_cimd_cache_fetches(mdt_cimd_cache *c);

#endif
