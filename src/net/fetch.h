/* Outbound HTTP GET for documents Mandate must fetch on behalf of clients
 * and configuration (a client's jwks_uri, a trusted issuer's JWK Set), and
 * POST to the policy decision points an administrator configured, made
 * safe against server-side request forgery:
 *   - https only (http only when allow_http), the server's certificate
 *     checked against ca_file when set, else the system's store;
 *   - no redirects, no proxies from the environment, no other protocols;
 *   - the address curl actually connects to (after DNS) must be public
 *     (mdt_fetch_addr_refused: the one deny list) unless allow_private;
 *   - a total time limit and a cap on the body size;
 *   - only a 200 answer counts.
 *
 * Threads: mdt_fetch_get may be called from any number of threads at once
 * (each call has its own curl handle); it blocks for up to timeout_ms. The
 * server fetches through a fetcher instead (below), which blocks no
 * request thread. */
#ifndef MDT_NET_FETCH_H
#define MDT_NET_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/mdt.h"
#include "core/metrics.h"

#define MDT_FETCH_URL_MAX 2048 /* longest URL fetched */

typedef struct {
    int64_t timeout_ms;  /* total: resolve, connect, TLS, transfer */
    size_t max_bytes;    /* larger bodies fail with MDT_ERR_TOO_LARGE */
    bool allow_http;
    bool allow_private;
    const char *ca_file; /* PEM bundle trusted for https ([server] outbound_ca_file),
                            borrowed; NULL or "": the system's store */
    mdt_metric_fetch_kind kind; /* its label in mandate_outbound_fetches_total */
} mdt_fetch_opts;

/* GETs url into out (initialised by the caller; its own cap applies too).
 * Failures, each with a detail naming the reason (never the body):
 *   MDT_ERR_INVALID_REQUEST  URL malformed, too long, or not https
 *   MDT_ERR_ACCESS_DENIED    the host resolves to a refused address
 *   MDT_ERR_TOO_LARGE        body beyond max_bytes
 *   MDT_ERR_UNAVAILABLE      timeout, connection or TLS failure, status not 200 */
mdt_rc mdt_fetch_get(const char *url, const mdt_fetch_opts *o, mdt_buf *out,
                     mdt_err *err) MDT_WARN_UNUSED;

/* Response headers a caller may cache by (RFC 9111): each the value as
 * received (several Cache-Control fields joined by ", "), "" when absent,
 * cut at the size of its buffer. */
typedef struct {
    char cache_control[256];
    char expires[64];
    char date[64];
    char age[24];
} mdt_fetch_headers;

/* mdt_fetch_get with the Accept header accept (NULL: JWK Set types) and,
 * when h is not NULL, the caching headers of the answer in *h. */
mdt_rc mdt_fetch_get_ex(const char *url, const mdt_fetch_opts *o, const char *accept,
                        mdt_buf *out, mdt_fetch_headers *h, mdt_err *err) MDT_WARN_UNUSED;

/* A POST of body (NUL-terminated) with Content-Type content_type, Accept
 * application/json, under the rules of mdt_fetch_get (redirects not
 * followed, caps on time and size, only a 200 answer counts); the answer's
 * body in out. For services the administrator configured (external policy
 * decision points), which may allow http and private addresses. */
mdt_rc mdt_fetch_post(const char *url, const mdt_fetch_opts *o, const char *content_type,
                      const char *body, mdt_buf *out, mdt_err *err) MDT_WARN_UNUSED;

/* --- fetching without holding the caller's thread ---
 *
 * A fetcher is one thread running a libcurl multi handle: any number of
 * fetches progress at once on it, each with the rules above, and the
 * thread that asked goes on with other work. The done callback of a fetch
 * runs on the fetcher's thread, exactly once per accepted fetch (also when
 * the fetcher stops before the fetch ends: MDT_ERR_UNAVAILABLE). At most
 * max_total fetches are in progress at once, and at most max_per_host to
 * one host (as written in the URL); a fetch beyond either is refused at
 * once, so that slow hosts cannot queue up work without bound. */

typedef struct mdt_fetcher mdt_fetcher;

/* The outcome of a fetch: body (NUL-terminated when not empty) and caching
 * headers are valid only during the callback. */
typedef void (*mdt_fetch_done_fn)(void *ctx, mdt_rc rc, const mdt_buf *body,
                                  const mdt_fetch_headers *h, const mdt_err *err);

mdt_rc mdt_fetcher_start(int max_total, int max_per_host, mdt_fetcher **out,
                         mdt_err *err) MDT_WARN_UNUSED;
/* Ends every fetch in progress (their callbacks run, with MDT_ERR_UNAVAILABLE),
 * then the thread; later submits are refused. Idempotent, NULL-safe. The
 * server calls it before it closes connections, so that no request stays
 * suspended waiting for a fetch. */
void mdt_fetcher_stop(mdt_fetcher *f);
/* mdt_fetcher_stop, then frees f. NULL-safe. */
void mdt_fetcher_free(mdt_fetcher *f);
/* Starts a GET of url as mdt_fetch_get_ex would (accept NULL: JWK Set
 * types). MDT_OK: done(ctx, ...) will be called on the fetcher's thread.
 * Else nothing was started: MDT_ERR_INVALID_REQUEST (the URL), or
 * MDT_ERR_UNAVAILABLE (a cap reached, or the fetcher stopping). */
mdt_rc mdt_fetcher_submit(mdt_fetcher *f, const char *url, const mdt_fetch_opts *o,
                          const char *accept, mdt_fetch_done_fn done, void *ctx,
                          mdt_err *err) MDT_WARN_UNUSED;
/* Starts a POST as mdt_fetch_post would (body copied), reported like
 * mdt_fetcher_submit. */
mdt_rc mdt_fetcher_submit_post(mdt_fetcher *f, const char *url, const mdt_fetch_opts *o,
                               const char *content_type, const char *body,
                               mdt_fetch_done_fn done, void *ctx, mdt_err *err) MDT_WARN_UNUSED;
/* Fetches in progress now (tests, metrics). */
size_t mdt_fetcher_active(mdt_fetcher *f);

/* A request that waits for a fetch another thread makes: a cache that
 * cannot answer without fetching starts the fetch (or joins the one under
 * way), records the waiter, sets registered and answers at once; when the
 * fetch has ended and the cache holds its outcome, wake(ctx) is called
 * (from the fetcher's thread), and the request is asked again. The waiter
 * must stay valid until then (the server keeps it in the connection). */
typedef struct mdt_fetch_waiter {
    void (*wake)(void *ctx);
    void *ctx;
    bool registered;
    struct mdt_fetch_waiter *next;
} mdt_fetch_waiter;

/* Wakes every waiter of list; each may be gone once woken. */
void mdt_fetch_waiters_wake(mdt_fetch_waiter *list);

/* An HTTP date (RFC 9110 §5.6.7: IMF-fixdate and the obsolete forms) as
 * seconds since the epoch; -1 when s is not a date. */
int64_t mdt_fetch_http_date(const char *s);

/* The outbound deny list (one table in fetch.c): why sa may not be
 * connected to, as a short text naming the range and its RFC ("loopback
 * (RFC 1122)"), or NULL when sa is a public unicast address. Refused:
 * unspecified, loopback, private (RFC 1918, ULA), link-local, CGNAT,
 * multicast, broadcast, documentation, benchmarking, Teredo, ORCHIDv2,
 * discard-only and reserved ranges, the local-use NAT64 prefix
 * 64:ff9b:1::/48 (RFC 8215: translated to whatever the operator chose, so
 * possibly internal addresses), and IPv4-mapped, NAT64 well-known-prefix
 * (64:ff9b::/96) or 6to4 forms of refused IPv4 addresses. Families other
 * than AF_INET and AF_INET6 are refused. */
const char *mdt_fetch_addr_refused(const struct sockaddr *sa);
/* mdt_fetch_addr_refused(sa) == NULL. */
bool mdt_fetch_addr_public(const struct sockaddr *sa);

#endif
