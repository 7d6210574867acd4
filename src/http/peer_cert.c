/* Client certificates of the TLS connection, from its GnuTLS session. See
 * peer_cert.h. */
#define _GNU_SOURCE
#include "http/peer_cert.h"

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <string.h>

static const gnutls_datum_t *tls_peers(const mdt_req *req, unsigned *n)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t s;

    *n = 0;
    if (!req->conn)
        return NULL;
    ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return NULL;
    s = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
        return NULL;
    return gnutls_certificate_get_peers(s, n);
}

mdt_rc mdt_http_tls_certs(mdt_req *req, mdt_der out[MDT_X509_CHAIN_MAX], size_t *n,
                          mdt_err *err)
{
    unsigned count = 0;
    const gnutls_datum_t *peers = tls_peers(req, &count);

    *n = 0;
    if (!peers || count == 0)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "no client certificate");
    if (count > MDT_X509_CHAIN_MAX)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "client sent %u certificates (at most %d)", count, MDT_X509_CHAIN_MAX);
    for (unsigned i = 0; i < count; i++) {
        uint8_t *copy = mdt_arena_alloc(req->arena, peers[i].size ? peers[i].size : 1);
        if (!copy)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        memcpy(copy, peers[i].data, peers[i].size);
        out[(*n)++] = (mdt_der){copy, peers[i].size};
    }
    return MDT_OK;
}

bool mdt_http_tls_cert_present(const mdt_req *req)
{
    unsigned n;

    return tls_peers(req, &n) && n > 0;
}
