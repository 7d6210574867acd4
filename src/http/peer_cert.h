/* The client certificate of a request (RFC 8705): from the X-Client-Cert
 * header (URL-encoded PEM, as nginx's $ssl_client_escaped_cert) when, and
 * only when, the peer address is in [server] trusted_proxies; else from the
 * TLS connection (the listener asks for a certificate when tls_client_ca is
 * set, but does not require one, and does not decide whether to trust it:
 * src/oauth/client_mtls.c does). From any other peer the header is ignored. */
#ifndef MDT_HTTP_PEER_CERT_H
#define MDT_HTTP_PEER_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/env.h"
#include "http/http.h"
#include "jose/x509.h"

#define MDT_PEER_CERT_HEADER "X-Client-Cert"
#define MDT_PEER_CERT_HEADER_MAX 12288 /* bytes of the URL-encoded PEM accepted */
#define MDT_TRUSTED_PROXIES_MAX 64     /* CIDRs in [server] trusted_proxies */

/* Whether ip (text, IPv4 or IPv6; IPv4-mapped IPv6 counts as IPv4) is in one
 * of the comma-separated CIDRs (plain addresses are /32 or /128). The list
 * is parsed once and kept (a documented cache, keyed by its text). */
bool mdt_ip_in_cidrs(const char *ip, const char *cidrs);
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
