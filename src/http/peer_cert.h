/* The certificates the TLS peer presented (RFC 8705), read from the GnuTLS
 * session of the connection. The listener asks for a certificate when
 * tls_client_ca is set, but does not require one, and does not decide
 * whether to trust it (src/oauth/client_mtls.c does). These are the
 * transport's hooks (msg/transport.h); handlers ask through
 * msg/client_cert.h, which also reads a trusted proxy's X-Client-Cert. */
#ifndef MDT_HTTP_PEER_CERT_H
#define MDT_HTTP_PEER_CERT_H

#include <stdbool.h>
#include <stddef.h>

#include "jose/x509.h"
#include "msg/msg.h"

/* Whether the TLS peer presented a certificate (not verified). */
bool mdt_http_tls_cert_present(const mdt_req *req);
/* The TLS peer's certificates, leaf first, copied into the request's arena.
 * MDT_ERR_NOT_FOUND when none; MDT_ERR_INVALID_CLIENT when more than
 * MDT_X509_CHAIN_MAX. */
mdt_rc mdt_http_tls_certs(mdt_req *req, mdt_der out[MDT_X509_CHAIN_MAX], size_t *n,
                          mdt_err *err) MDT_WARN_UNUSED;

#endif
