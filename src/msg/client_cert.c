/* Client certificates: from a trusted proxy's X-Client-Cert header, or from
 * the TLS connection through the request's transport. See client_cert.h. */
#define _GNU_SOURCE
#include "msg/client_cert.h"

#include <string.h>

#include "core/b64.h"
#include "core/ip.h"
#include "msg/transport.h"

bool mdt_req_peer_trusted(const mdt_env *env, const mdt_req *req)
{
    return mdt_ip_in_cidrs(req->socket_ip ? req->socket_ip : req->peer_ip,
                           env->cfg.trusted_proxies);
}

/* ---- the forwarded header ----------------------------------------------- */

/* RFC 3986 percent-decoding ('+' stays '+': it is base64 here). */
static char *percent_decode(mdt_arena *a, const char *s, size_t len, size_t *outlen)
{
    char *out = mdt_arena_alloc(a, len + 1), *w = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        if (i + 2 >= len)
            return NULL;
        hi = mdt_hex_value(s[i + 1]);
        lo = hi >= 0 ? mdt_hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return NULL;
        *w++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *w = '\0';
    *outlen = (size_t)(w - out);
    return out;
}

static const char *forwarded(const mdt_env *env, mdt_req *req)
{
    const char *h;

    if (!mdt_req_peer_trusted(env, req))
        return NULL; /* from anyone else the header means nothing */
    h = mdt_req_header(req, MDT_PEER_CERT_HEADER);
    return h && *h ? h : NULL;
}

static mdt_rc from_header(mdt_req *req, const char *h, mdt_der *out, size_t *n, mdt_err *err)
{
    size_t len = strnlen(h, MDT_PEER_CERT_HEADER_MAX + 1), pemlen = 0;
    const char *pem;
    mdt_err perr = {0};

    if (len > MDT_PEER_CERT_HEADER_MAX)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "%s header larger than %d bytes", MDT_PEER_CERT_HEADER,
                         MDT_PEER_CERT_HEADER_MAX);
    if (!(pem = percent_decode(req->arena, h, len, &pemlen)))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "%s header: bad percent-encoding", MDT_PEER_CERT_HEADER);
    if (mdt_x509_pem_decode(pem, pemlen, req->arena, out, MDT_X509_CHAIN_MAX, n, &perr) != MDT_OK)
        return mdt_failf(err, perr.rc == MDT_ERR_NOMEM ? MDT_ERR_NOMEM : MDT_ERR_INVALID_CLIENT,
                         "client authentication failed", "%s header: %s", MDT_PEER_CERT_HEADER,
                         mdt_err_text(&perr));
    return MDT_OK;
}

bool mdt_req_client_cert_present(const mdt_env *env, mdt_req *req)
{
    return forwarded(env, req) != NULL ||
           (req->transport && req->transport->tls_cert_present &&
            req->transport->tls_cert_present(req));
}

mdt_rc mdt_req_client_certs(const mdt_env *env, mdt_req *req, mdt_der out[MDT_X509_CHAIN_MAX],
                            size_t *n, mdt_err *err)
{
    const char *h = forwarded(env, req);

    *n = 0;
    if (h)
        return from_header(req, h, out, n, err);
    if (!req->transport || !req->transport->tls_certs)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "no client certificate");
    return req->transport->tls_certs(req, out, n, err);
}
