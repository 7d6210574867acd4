/* The client certificate of a request (RFC 8705): from the X-Client-Cert
 * header (URL-encoded PEM, as nginx's $ssl_client_escaped_cert) when, and
 * only when, the peer address is in [server] trusted_proxies; else from the
 * TLS connection (through the request's transport: http/peer_cert.h). From
 * any other peer the header is ignored. Whether to trust a certificate is
 * decided by src/oauth/client_mtls.c. */
#ifndef MDT_MSG_CLIENT_CERT_H
#define MDT_MSG_CLIENT_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/env.h"
#include "jose/x509.h"
#include "msg/msg.h"

#define MDT_PEER_CERT_HEADER "X-Client-Cert"
#define MDT_PEER_CERT_HEADER_MAX 12288 /* bytes of the URL-encoded PEM accepted */

/* Whether the request's peer is a trusted proxy. */
bool mdt_req_peer_trusted(const mdt_env *env, const mdt_req *req);

/* True when the request carries a client certificate (not verified). */
bool mdt_req_client_cert_present(const mdt_env *env, mdt_req *req);
/* The certificates the client presented, leaf first, as DER in the
 * request's arena: out[0] the leaf, then the chain it sent (*n >= 1).
 * MDT_ERR_NOT_FOUND when none; MDT_ERR_INVALID_CLIENT when the forwarded
 * header is malformed or larger than MDT_PEER_CERT_HEADER_MAX. */
mdt_rc mdt_req_client_certs(const mdt_env *env, mdt_req *req, mdt_der out[MDT_X509_CHAIN_MAX],
                            size_t *n, mdt_err *err) MDT_WARN_UNUSED;

#endif
