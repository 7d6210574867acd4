/* The client certificate of a request (RFC 8705): from the TLS connection,
 * or from the X-Client-Cert header (URL-encoded PEM) when, and only when, the
 * peer address is in [server] trusted_proxies. */
#ifndef MDT_HTTP_PEER_CERT_H
#define MDT_HTTP_PEER_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/* True when the request carries a client certificate (no verification). */
bool mdt_req_client_cert_present(mdt_req *req);
/* The leaf certificate, DER, in the request's arena, and the chain the
 * client sent after it (DER each; *nchain may be 0). MDT_ERR_NOT_FOUND when
 * none; MDT_ERR_INVALID_CLIENT when the forwarded header is malformed. */
mdt_rc mdt_req_client_cert(mdt_req *req, const uint8_t **der, size_t *len,
                           mdt_err *err) MDT_WARN_UNUSED;

#endif
