/* What only the server can answer about a request: its header fields and
 * query parameters as the server parsed them, and the certificates the TLS
 * peer presented. src/http/server.c fills one of these for every request;
 * the rest of the code asks through mdt_req_header, mdt_req_query and
 * msg/client_cert.h, never through the server. */
#ifndef MDT_MSG_TRANSPORT_H
#define MDT_MSG_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mdt.h"
#include "jose/x509.h"
#include "msg/msg.h"

typedef struct mdt_req_transport {
    /* Case-insensitive header lookup; NULL when absent. */
    const char *(*header)(const mdt_req *req, const char *name);
    /* A decoded query parameter; NULL when absent. */
    const char *(*query)(const mdt_req *req, const char *name);
    /* Whether the TLS peer presented a certificate (not verified). */
    bool (*tls_cert_present)(const mdt_req *req);
    /* The TLS peer's certificates, leaf first, as DER copied into the
     * request's arena (*n >= 1). MDT_ERR_NOT_FOUND when none;
     * MDT_ERR_INVALID_CLIENT when more than MDT_X509_CHAIN_MAX. */
    mdt_rc (*tls_certs)(mdt_req *req, mdt_der out[MDT_X509_CHAIN_MAX], size_t *n,
                        mdt_err *err);
} mdt_req_transport;

#endif
