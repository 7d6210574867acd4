/* SSRF-safe HTTP GET with libcurl (see fetch.h for the rules). The address
 * check sits in curl's open-socket callback, so it applies to the address
 * actually connected to after DNS resolution, not to the name: a host name
 * that resolves (or rebinds) to 127.0.0.1 is refused as the literal is. */
#define _GNU_SOURCE
#include "net/fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

typedef struct {
    mdt_buf *out;
    mdt_fetch_headers *h; /* NULL: not captured */
    size_t max;
    bool allow_private;
    bool too_large;
    bool refused;
    char refused_addr[INET6_ADDRSTRLEN];
} fetch_ctx;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool in4(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
    return (a & mask) == net;
}

static bool public_v4(uint32_t a)
{
    static const struct {
        uint32_t net;
        int bits;
    } refused[] = {
        {0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},
        {0xa9fe0000, 16}, {0xac100000, 12}, {0xc0000000, 24}, {0xc0000200, 24},
        {0xc0a80000, 16}, {0xc6120000, 15}, {0xc6336400, 24}, {0xcb007100, 24},
        {0xe0000000, 4},  {0xf0000000, 4},
    };

    for (size_t i = 0; i < MDT_ARRAY_LEN(refused); i++)
        if (in4(a, refused[i].net, refused[i].bits))
            return false;
    return true;
}

static uint32_t v4_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool public_v6(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[12] = {0};

    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return public_v4(v4_at(b + 12));
    if (memcmp(b, zero, 12) == 0)
        return false;                              /* ::, ::1, IPv4-compatible */
    if (b[0] == 0x20 && b[1] == 0x02)
        return public_v4(v4_at(b + 2));            /* 6to4 */
    if ((b[0] & 0xfe) == 0xfc || b[0] == 0xff)     /* ULA, multicast */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) != 0)        /* link-local, site-local */
        return false;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return false;                              /* documentation */
    if (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, zero, 6) == 0)
        return false;                              /* discard-only 100::/64 */
    return true;
}

bool mdt_fetch_addr_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return public_v4(ntohl(s4->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return public_v6(s6->sin6_addr.s6_addr);
    }
    return false;
}

static void addr_text(const struct sockaddr *sa, char out[INET6_ADDRSTRLEN])
{
    const void *p = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

    if (!inet_ntop(sa->sa_family, p, out, INET6_ADDRSTRLEN))
        snprintf(out, INET6_ADDRSTRLEN, "?");
}

/* Every connection curl opens comes through here, after DNS. */
static curl_socket_t open_socket(void *ctxp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    fetch_ctx *ctx = ctxp;

    if (purpose != CURLSOCKTYPE_IPCXN ||
        (addr->family != AF_INET && addr->family != AF_INET6) ||
        (!ctx->allow_private && !mdt_fetch_addr_public(&addr->addr))) {
        ctx->refused = true;
        if (addr->family == AF_INET || addr->family == AF_INET6)
            addr_text(&addr->addr, ctx->refused_addr);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t on_data(char *p, size_t size, size_t n, void *ctxp)
{
    fetch_ctx *ctx = ctxp;
    size_t len = size * n;

    if (ctx->out->len + len > ctx->max || mdt_buf_add(ctx->out, p, len) != MDT_OK) {
        ctx->too_large = true;
        return 0; /* aborts the transfer */
    }
    return len;
}

/* Copies the value of a header line "Name: value\r\n" into dst when its
 * name is name; with join, appends to what dst holds. */
static void header_value(const char *line, size_t n, const char *name, char *dst, size_t cap,
                         bool join)
{
    size_t nl = strlen(name), used = join ? strlen(dst) : 0;

    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return;
    line += nl + 1;
    n -= nl + 1;
    while (n && (*line == ' ' || *line == '\t'))
        line++, n--;
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    if (used)
        used += (size_t)snprintf(dst + used, used < cap ? cap - used : 0, ", ");
    if (used < cap)
        snprintf(dst + used, cap - used, "%.*s", (int)n, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctxp)
{
    fetch_ctx *ctx = ctxp;
    size_t len = size * n;

    if (!ctx->h)
        return len;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) /* a new answer: forget the previous one's */
        memset(ctx->h, 0, sizeof(*ctx->h));
    header_value(p, len, "Cache-Control", ctx->h->cache_control, sizeof(ctx->h->cache_control),
                 true);
    header_value(p, len, "Expires", ctx->h->expires, sizeof(ctx->h->expires), false);
    header_value(p, len, "Date", ctx->h->date, sizeof(ctx->h->date), false);
    header_value(p, len, "Age", ctx->h->age, sizeof(ctx->h->age), false);
    return len;
}

int64_t mdt_fetch_http_date(const char *s)
{
    time_t t;

    if (!s || !*s)
        return -1;
    t = curl_getdate(s, NULL);
    return t == (time_t)-1 ? -1 : (int64_t)t;
}

/* https, or http when allowed; no credentials in the URL. */
static mdt_rc check_url(const char *url, bool allow_http, mdt_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *user = NULL;
    mdt_rc rc = MDT_OK;

    if (!u)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (strlen(url) > MDT_FETCH_URL_MAX || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "malformed URL");
    else if (strcasecmp(scheme, "https") != 0 && !(allow_http && strcasecmp(scheme, "http") == 0))
        rc = mdt_failf(err, MDT_ERR_INVALID_REQUEST, "URL is not https", "%s URL refused",
                       scheme);
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "URL with credentials refused");
    curl_free(scheme);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static bool setup(CURL *h, const char *url, const mdt_fetch_opts *o, fetch_ctx *ctx,
                  struct curl_slist *hdrs)
{
    const char *protos = o->allow_http ? "http,https" : "https";

    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, ctx) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, ctx) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HEADERDATA, ctx) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USERAGENT, "mandate") == CURLE_OK;
}

static mdt_rc result(CURL *h, CURLcode cc, const fetch_ctx *ctx, const mdt_fetch_opts *o,
                     mdt_err *err)
{
    long status = 0;

    if (ctx->refused)
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, "address refused",
                         "host resolves to a refused address (%s)", ctx->refused_addr);
    if (ctx->too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return mdt_failf(err, MDT_ERR_TOO_LARGE, "document too large",
                         "document larger than %zu bytes", o->max_bytes);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch timed out",
                         "no complete answer within %lld ms", (long long)o->timeout_ms);
    if (cc != CURLE_OK)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch failed", "fetch failed: %s",
                         curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch failed", "HTTP status %ld", status);
    return MDT_OK;
}

mdt_rc mdt_fetch_get(const char *url, const mdt_fetch_opts *o, mdt_buf *out, mdt_err *err)
{
    return mdt_fetch_get_ex(url, o, NULL, out, NULL, err);
}

mdt_rc mdt_fetch_get_ex(const char *url, const mdt_fetch_opts *o, const char *accept,
                        mdt_buf *out, mdt_fetch_headers *hd, mdt_err *err)
{
    fetch_ctx ctx = {.out = out, .h = hd, .max = o->max_bytes, .allow_private = o->allow_private};
    char accept_line[128];
    struct curl_slist *hdrs = NULL;
    CURL *h = NULL;
    mdt_rc rc;

    if (hd)
        memset(hd, 0, sizeof(*hd));
    snprintf(accept_line, sizeof(accept_line), "Accept: %s",
             accept ? accept : "application/jwk-set+json, application/json");
    if ((rc = check_url(url, o->allow_http, err)) != MDT_OK)
        return rc;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return mdt_fail(err, MDT_ERR_INTERNAL, "libcurl cannot start");
    rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (!(hdrs = curl_slist_append(NULL, accept_line)) ||
        !(h = curl_easy_init()))
        goto out;
    if (!setup(h, url, o, &ctx, hdrs)) {
        rc = mdt_fail(err, MDT_ERR_INTERNAL, "libcurl lacks a required option");
        goto out;
    }
    rc = result(h, curl_easy_perform(h), &ctx, o, err);
out:
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    return rc;
}
