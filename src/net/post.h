/* Outbound HTTP POST of a JSON body to an address an administrator
 * configured (webhooks): http or https only, no redirects followed, no
 * proxies from the environment, bounded connect and total times, the
 * answer's body read and dropped (at most 64 KiB). Loopback and private
 * addresses are allowed: the URL is configuration, not client input.
 *
 * Threads: any number of threads may post at once (each call has its own
 * curl handle); a call blocks for up to timeout_ms. */
#ifndef MDT_NET_POST_H
#define MDT_NET_POST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/mdt.h"

typedef struct {
    int64_t connect_timeout_ms;
    int64_t timeout_ms;          /* total: resolve, connect, TLS, send, answer */
    const atomic_bool *cancel;   /* when it becomes true, the post ends at once; NULL: none */
    const char *ca_file;         /* PEM bundle trusted for https ([server] outbound_ca_file),
                                    borrowed; NULL or "": the system's store */
} mdt_post_opts;

/* POSTs body (Content-Type: application/json) with the extra headers
 * ("Name: value", NULL-terminated; NULL: none) to url. *status: the HTTP
 * status of the answer (a 3xx is not followed). MDT_ERR_UNAVAILABLE when
 * there is no answer (refused, timed out, TLS failure); MDT_ERR_INVALID_REQUEST
 * for a URL that is not http or https. */
mdt_rc mdt_post_json(const char *url, const char *const *headers, const char *body,
                     const mdt_post_opts *o, long *status, mdt_err *err) MDT_WARN_UNUSED;

#endif
