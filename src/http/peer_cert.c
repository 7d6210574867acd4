/* Client certificates: from the GnuTLS session of the connection, or from a
 * trusted proxy's X-Client-Cert header. See peer_cert.h. */
#define _GNU_SOURCE
#include "core/b64.h"
#include "http/peer_cert.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- trusted proxies ---------------------------------------------------- */

typedef struct {
    uint8_t addr[16];
    int bits;
    int family;
} cidr;

/* The parsed [server] trusted_proxies: a documented cache, parsed again only
 * when the text differs (one configuration per process in practice). */
static struct {
    pthread_mutex_t mu;
    char *src;
    cidr list[MDT_TRUSTED_PROXIES_MAX];
    size_t n;
} proxies = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* "10.0.0.0/8", "::1", ... (already validated by the configuration). */
static bool parse_cidr(const char *s, size_t len, cidr *out)
{
    char text[64];
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    char *end;
    long bits;

    if (alen == 0 || alen >= sizeof(text))
        return false;
    memcpy(text, s, alen);
    text[alen] = '\0';
    out->family = strchr(text, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, text, out->addr) != 1)
        return false;
    out->bits = out->family == AF_INET6 ? 128 : 32;
    if (!slash)
        return true;
    bits = strtol(slash + 1, &end, 10);
    if (end != s + len || bits < 0 || bits > out->bits)
        return false;
    out->bits = (int)bits;
    return true;
}

static void parse_list(const char *src)
{
    const char *p = src;

    proxies.n = 0;
    while (*p && proxies.n < MDT_TRUSTED_PROXIES_MAX) {
        size_t len = strcspn(p, ",");
        const char *q = p;
        size_t n = len;

        while (n && *q == ' ') {
            q++;
            n--;
        }
        while (n && q[n - 1] == ' ')
            n--;
        if (n && parse_cidr(q, n, &proxies.list[proxies.n]))
            proxies.n++;
        p += len;
        if (*p == ',')
            p++;
    }
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* ip -> family and bytes; IPv4-mapped IPv6 becomes IPv4. */
static bool parse_ip(const char *ip, int *family, uint8_t addr[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (inet_pton(AF_INET, ip, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, ip, addr) != 1)
        return false;
    *family = AF_INET6;
    if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
        memmove(addr, addr + 12, 4);
        *family = AF_INET;
    }
    return true;
}

bool mdt_ip_in_cidrs(const char *ip, const char *cidrs)
{
    uint8_t addr[16];
    int family;
    bool hit = false;

    if (!ip || !cidrs || !*cidrs || !parse_ip(ip, &family, addr))
        return false;
    pthread_mutex_lock(&proxies.mu);
    if (!proxies.src || strcmp(proxies.src, cidrs) != 0) {
        free(proxies.src);
        proxies.src = mdt_strdup(cidrs);
        parse_list(cidrs);
        if (!proxies.src)
            proxies.n = 0; /* NOMEM: trust nobody, parse again next time */
    }
    for (size_t i = 0; i < proxies.n && !hit; i++)
        hit = proxies.list[i].family == family &&
              prefix_eq(proxies.list[i].addr, addr, proxies.list[i].bits);
    pthread_mutex_unlock(&proxies.mu);
    return hit;
}

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

/* ---- the TLS connection -------------------------------------------------- */

static const gnutls_datum_t *tls_peers(mdt_req *req, unsigned *n)
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

static mdt_rc from_tls(mdt_req *req, mdt_der *out, size_t *n, mdt_err *err)
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

bool mdt_req_client_cert_present(const mdt_env *env, mdt_req *req)
{
    unsigned n;

    return forwarded(env, req) != NULL || (tls_peers(req, &n) && n > 0);
}

mdt_rc mdt_req_client_certs(const mdt_env *env, mdt_req *req, mdt_der out[MDT_X509_CHAIN_MAX],
                            size_t *n, mdt_err *err)
{
    const char *h = forwarded(env, req);

    *n = 0;
    return h ? from_header(req, h, out, n, err) : from_tls(req, out, n, err);
}
