/* Prometheus metrics: per-thread counters summed when /metrics is scraped.
 *
 * Each thread that counts gets its own block of counters the first time it
 * counts (registered once, under a lock); after that an increment is a
 * plain add to the thread's block (relaxed atomic load and store by the
 * owner only: no lock and no read-modify-write shared between threads).
 * A scrape sums every block. A block outlives its thread: the next thread
 * takes it over, so that counters never go back.
 *
 * Every label has a small fixed set of values (enums, or indices into a
 * table registered at start), so that the number of series is bounded. */
#ifndef MDT_CORE_METRICS_H
#define MDT_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/mdt.h"

#define MDT_METRICS_MAX_ENDPOINTS 128

/* grant label of mandate_tokens_issued_total / _refused_total */
typedef enum {
    MDT_MG_AUTHORIZATION_CODE,
    MDT_MG_CLIENT_CREDENTIALS,
    MDT_MG_REFRESH_TOKEN,
    MDT_MG_TOKEN_EXCHANGE,
    MDT_MG_JWT_BEARER,
    MDT_MG_DEVICE_CODE,
    MDT_MG_CIBA,
    MDT_MG_OTHER, /* missing or unknown grant_type */
    MDT_MG_COUNT
} mdt_metric_grant;

typedef enum {
    MDT_MF_ALLOW,
    MDT_MF_UNAUTHORIZED,
    MDT_MF_FORBIDDEN,
    MDT_MF_ERROR,
    MDT_MF_COUNT
} mdt_metric_fwd;

typedef enum { MDT_MP_EMBEDDED, MDT_MP_AUTHZEN, MDT_MP_OPA, MDT_MP_COUNT } mdt_metric_pdp;

/* kind label of mandate_outbound_fetches_total */
typedef enum {
    MDT_MK_OTHER,
    MDT_MK_JWKS,     /* a client's or trusted issuer's jwks_uri */
    MDT_MK_METADATA, /* client ID metadata documents, software statements' documents */
    MDT_MK_WEBHOOK,
    MDT_MK_PDP,
    MDT_MK_COUNT
} mdt_metric_fetch_kind;

typedef enum {
    MDT_MO_OK,
    MDT_MO_HTTP_ERROR, /* answered with a status other than 200 */
    MDT_MO_TIMEOUT,
    MDT_MO_REFUSED,    /* the address is not one Mandate fetches from */
    MDT_MO_TOO_LARGE,
    MDT_MO_FAILED,     /* connection, TLS, DNS... */
    MDT_MO_COUNT
} mdt_metric_fetch_outcome;

/* The label of endpoint i of mandate_http_requests_total (the router's
 * patterns, never raw paths); names are borrowed and live as long as the
 * process. Index 0 should be the one of requests no route matched. Set
 * once before the server starts. */
void mdt_metrics_set_endpoints(const char *const *names, size_t n);

mdt_metric_grant mdt_metrics_grant_of(const char *grant_type);

void mdt_metrics_http(unsigned endpoint, int status, double seconds);
void mdt_metrics_token_issued(mdt_metric_grant g);
/* reason: the OAuth error code of rc (mdt_rc_name). */
void mdt_metrics_token_refused(mdt_metric_grant g, mdt_rc rc);
void mdt_metrics_forward_auth(mdt_metric_fwd decision);
/* A JWT access token read through the cache of verified tokens
 * (mdt_token_inspect_cached): its signature verified now, or found
 * verified before. */
void mdt_metrics_token_read(bool cached);
void mdt_metrics_pdp(mdt_metric_pdp mode, double seconds);
void mdt_metrics_audit_commit(double seconds, size_t batch);
void mdt_metrics_fetch(mdt_metric_fetch_kind kind, mdt_metric_fetch_outcome outcome);

/* What the scrape adds that is not counted (gauges read at scrape time). */
typedef struct {
    int64_t approvals_pending; /* < 0: unknown (not written) */
    const char *version;       /* mandate_build_info{version} */
} mdt_metrics_gauges;

/* Appends every metric in the text exposition format 0.0.4. */
mdt_rc mdt_metrics_render(mdt_buf *out, const mdt_metrics_gauges *g) MDT_WARN_UNUSED;

#endif
