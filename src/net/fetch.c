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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/url.h"
#include "net/tls.h"

typedef struct {
    mdt_buf *out;
    mdt_fetch_headers *h; /* NULL: not captured */
    size_t max;
    bool allow_private;
    bool too_large;
    bool refused;
    char refused_addr[INET6_ADDRSTRLEN];
    const char *refused_why; /* the deny-list entry; NULL: not an IP connection */
} fetch_ctx;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---------------------------------------------------------------- addresses
 *
 * The outbound deny list, in one place. Every address is compared as IPv6:
 * an IPv4 address as its IPv4-mapped form (::ffff:a.b.c.d), so one table
 * holds both families. Forms that embed an IPv4 address which routers or
 * translators will reach (IPv4-mapped, the NAT64 well-known prefix, 6to4)
 * are checked again by that IPv4 address. Anything not in the table is
 * public. */

typedef struct {
    uint8_t prefix[16];
    int bits;
    const char *what;
} refused_net;

#define V4(a, b, c, d) {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d}
#define V4BITS(n) (96 + (n))

static const refused_net refused_nets[] = {
    {V4(0, 0, 0, 0), V4BITS(8), "this network (RFC 791)"},
    {V4(10, 0, 0, 0), V4BITS(8), "private (RFC 1918)"},
    {V4(100, 64, 0, 0), V4BITS(10), "shared address space, CGNAT (RFC 6598)"},
    {V4(127, 0, 0, 0), V4BITS(8), "loopback (RFC 1122)"},
    {V4(169, 254, 0, 0), V4BITS(16), "link-local, cloud metadata (RFC 3927)"},
    {V4(172, 16, 0, 0), V4BITS(12), "private (RFC 1918)"},
    {V4(192, 0, 0, 0), V4BITS(24), "IETF protocol assignments (RFC 6890)"},
    {V4(192, 0, 2, 0), V4BITS(24), "documentation TEST-NET-1 (RFC 5737)"},
    {V4(192, 88, 99, 0), V4BITS(24), "6to4 relay anycast (RFC 7526)"},
    {V4(192, 168, 0, 0), V4BITS(16), "private (RFC 1918)"},
    {V4(198, 18, 0, 0), V4BITS(15), "benchmarking (RFC 2544)"},
    {V4(198, 51, 100, 0), V4BITS(24), "documentation TEST-NET-2 (RFC 5737)"},
    {V4(203, 0, 113, 0), V4BITS(24), "documentation TEST-NET-3 (RFC 5737)"},
    {V4(224, 0, 0, 0), V4BITS(4), "multicast (RFC 5771)"},
    {V4(240, 0, 0, 0), V4BITS(4), "reserved and broadcast (RFC 1112, RFC 919)"},
    {{0}, 128, "unspecified (RFC 4291)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback (RFC 4291)"},
    {{0}, 96, "IPv4-compatible, deprecated (RFC 4291)"},
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, "local-use NAT64 (RFC 8215)"},
    {{0x01, 0x00}, 64, "discard-only (RFC 6666)"},
    {{0x20, 0x01, 0x00, 0x00}, 32, "Teredo (RFC 4380)"},
    {{0x20, 0x01, 0x00, 0x20}, 28, "ORCHIDv2 (RFC 7343)"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation (RFC 3849)"},
    {{0x3f, 0xff}, 20, "documentation (RFC 9637)"},
    {{0xfc}, 7, "unique local (RFC 4193)"},
    {{0xfe, 0x80}, 10, "link-local (RFC 4291)"},
    {{0xfe, 0xc0}, 10, "site-local, deprecated (RFC 3879)"},
    {{0xff}, 8, "multicast (RFC 4291)"},
};

#undef V4
#undef V4BITS

static bool in_prefix(const uint8_t a[16], const refused_net *n)
{
    int full = n->bits / 8, rest = n->bits % 8;

    if (memcmp(a, n->prefix, (size_t)full) != 0)
        return false;
    return rest == 0 || ((a[full] ^ n->prefix[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static const refused_net *refused_by(const uint8_t a[16])
{
    for (size_t i = 0; i < MDT_ARRAY_LEN(refused_nets); i++)
        if (in_prefix(a, &refused_nets[i]))
            return &refused_nets[i];
    return NULL;
}

/* The IPv4 address embedded in an IPv4-mapped, NAT64 well-known (RFC 6052)
 * or 6to4 (RFC 3056) address, as IPv4-mapped; false for other forms. */
static bool embedded_v4(const uint8_t a[16], uint8_t out[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t *v4;

    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        v4 = a + 12;
    else if (a[0] == 0x20 && a[1] == 0x02)
        v4 = a + 2;
    else
        return false;
    memcpy(out, mapped, 12);
    memcpy(out + 12, v4, 4);
    return true;
}

/* The deny-list entry that refuses a (IPv6 form), or NULL. */
static const char *refusal_v6(const uint8_t a[16])
{
    const refused_net *n = refused_by(a);
    uint8_t v4[16];

    if (!n && embedded_v4(a, v4))
        n = refused_by(v4);
    return n ? n->what : NULL;
}

const char *mdt_fetch_addr_refused(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        memcpy(a + 12, &s4->sin_addr.s_addr, 4); /* network order: a.b.c.d */
        return refusal_v6(a);
    }
    if (sa->sa_family == AF_INET6)
        return refusal_v6(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
    return "not an IP address";
}

bool mdt_fetch_addr_public(const struct sockaddr *sa)
{
    return mdt_fetch_addr_refused(sa) == NULL;
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

    const char *why = NULL;

    if (purpose != CURLSOCKTYPE_IPCXN ||
        (addr->family != AF_INET && addr->family != AF_INET6) ||
        (!ctx->allow_private && (why = mdt_fetch_addr_refused(&addr->addr)))) {
        ctx->refused = true;
        ctx->refused_why = why;
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
           curl_easy_setopt(h, CURLOPT_USERAGENT, "mandate") == CURLE_OK &&
           mdt_net_set_ca_file(h, o->ca_file);
}

static mdt_rc result_of(CURL *h, CURLcode cc, const fetch_ctx *ctx, const mdt_fetch_opts *o,
                        mdt_metric_fetch_outcome *outcome, mdt_err *err)
{
    long status = 0;

    *outcome = MDT_MO_REFUSED;
    if (ctx->refused)
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, "address refused",
                         "host resolves to a refused address (%s: %s)", ctx->refused_addr,
                         ctx->refused_why ? ctx->refused_why : "not an IP connection");
    *outcome = MDT_MO_TOO_LARGE;
    if (ctx->too_large || cc == CURLE_FILESIZE_EXCEEDED)
        return mdt_failf(err, MDT_ERR_TOO_LARGE, "document too large",
                         "document larger than %zu bytes", o->max_bytes);
    *outcome = MDT_MO_TIMEOUT;
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch timed out",
                         "no complete answer within %lld ms", (long long)o->timeout_ms);
    *outcome = MDT_MO_FAILED;
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch failed",
                         "fetch failed: the server's certificate does not chain to a trusted CA "
                         "(%s)", o->ca_file && *o->ca_file ? "[server] outbound_ca_file"
                                                          : "the system's store");
    if (cc != CURLE_OK)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch failed", "fetch failed: %s",
                         curl_easy_strerror(cc));
    *outcome = MDT_MO_HTTP_ERROR;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "fetch failed", "HTTP status %ld", status);
    *outcome = MDT_MO_OK;
    return MDT_OK;
}

/* The outcome of a fetch, counted by kind (mandate_outbound_fetches_total). */
static mdt_rc result(CURL *h, CURLcode cc, const fetch_ctx *ctx, const mdt_fetch_opts *o,
                     mdt_err *err)
{
    mdt_metric_fetch_outcome outcome = MDT_MO_FAILED;
    mdt_rc rc = result_of(h, cc, ctx, o, &outcome, err);

    mdt_metrics_fetch(o->kind, outcome);
    return rc;
}

mdt_rc mdt_fetch_get(const char *url, const mdt_fetch_opts *o, mdt_buf *out, mdt_err *err)
{
    return mdt_fetch_get_ex(url, o, NULL, out, NULL, err);
}

/* Makes h a POST of body with Content-Type ctype (added to hdrs, whose
 * head stays the same). */
static mdt_rc set_post(CURL *h, struct curl_slist *hdrs, const char *ctype, const char *body,
                       mdt_err *err)
{
    char line[128];

    snprintf(line, sizeof(line), "Content-Type: %s", ctype);
    if (!curl_slist_append(hdrs, line) || !curl_slist_append(hdrs, "Expect:"))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

/* A curl handle for url with every rule set; *hdrs to free after it. */
static mdt_rc easy_new(const char *url, const mdt_fetch_opts *o, const char *accept,
                       fetch_ctx *ctx, struct curl_slist **hdrs, CURL **out, mdt_err *err)
{
    char accept_line[128];
    mdt_rc rc;

    *out = NULL;
    *hdrs = NULL;
    snprintf(accept_line, sizeof(accept_line), "Accept: %s",
             accept ? accept : "application/jwk-set+json, application/json");
    if ((rc = check_url(url, o->allow_http, err)) != MDT_OK)
        return rc;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return mdt_fail(err, MDT_ERR_INTERNAL, "libcurl cannot start");
    if (!(*hdrs = curl_slist_append(NULL, accept_line)) || !(*out = curl_easy_init()))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (!setup(*out, url, o, ctx, *hdrs))
        return mdt_fail(err, MDT_ERR_INTERNAL, "libcurl lacks a required option");
    return MDT_OK;
}

/* A GET (ctype NULL) or a POST of body, blocking. */
static mdt_rc fetch_once(const char *url, const mdt_fetch_opts *o, const char *accept,
                         const char *ctype, const char *body, mdt_buf *out,
                         mdt_fetch_headers *hd, mdt_err *err)
{
    fetch_ctx ctx = {.out = out, .h = hd, .max = o->max_bytes, .allow_private = o->allow_private};
    struct curl_slist *hdrs = NULL;
    CURL *h = NULL;
    mdt_rc rc;

    if (hd)
        memset(hd, 0, sizeof(*hd));
    rc = easy_new(url, o, accept, &ctx, &hdrs, &h, err);
    if (rc == MDT_OK && ctype)
        rc = set_post(h, hdrs, ctype, body, err);
    if (rc == MDT_OK)
        rc = result(h, curl_easy_perform(h), &ctx, o, err);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    return rc;
}

mdt_rc mdt_fetch_get_ex(const char *url, const mdt_fetch_opts *o, const char *accept,
                        mdt_buf *out, mdt_fetch_headers *hd, mdt_err *err)
{
    return fetch_once(url, o, accept, NULL, NULL, out, hd, err);
}

mdt_rc mdt_fetch_post(const char *url, const mdt_fetch_opts *o, const char *content_type,
                      const char *body, mdt_buf *out, mdt_err *err)
{
    return fetch_once(url, o, "application/json", content_type, body, out, NULL, err);
}

/* ---------------------------------------------------------------- fetcher */

typedef struct job {
    fetch_ctx ctx;
    mdt_fetch_opts o;
    mdt_buf body;
    mdt_fetch_headers h;
    struct curl_slist *hdrs;
    CURL *easy;
    char *host;               /* lower-case, as written in the URL */
    mdt_fetch_done_fn done;
    void *done_ctx;
    bool added;               /* in the multi handle */
    struct job *next;
} job;

struct mdt_fetcher {
    pthread_mutex_t mu;
    pthread_t thread;
    CURLM *multi;
    job *jobs;                /* accepted and not yet done */
    size_t njobs;
    size_t max_total, max_per_host;
    bool stopping;
    bool joined;              /* mdt_fetcher_stop ran (once) */
};

static void job_free(job *j)
{
    if (!j)
        return;
    curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->hdrs);
    mdt_buf_free(&j->body);
    free(j->host);
    free(j);
}

/* Under the mutex. */
static size_t host_jobs(const mdt_fetcher *f, const char *host)
{
    size_t n = 0;

    for (const job *j = f->jobs; j; j = j->next)
        n += strcmp(j->host, host) == 0;
    return n;
}

/* Under the mutex: unlinks j. */
static void unlink_job(mdt_fetcher *f, job *j)
{
    for (job **p = &f->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            f->njobs--;
            return;
        }
}

/* On the fetcher's thread, j no longer listed: reports and frees it. */
static void job_end(job *j, mdt_rc rc, const mdt_err *err)
{
    j->done(j->done_ctx, rc, &j->body, &j->h, err);
    job_free(j);
}

static void finish(mdt_fetcher *f, job *j, CURLcode cc)
{
    mdt_err err = {0};
    mdt_rc rc = result(j->easy, cc, &j->ctx, &j->o, &err);

    curl_multi_remove_handle(f->multi, j->easy);
    pthread_mutex_lock(&f->mu);
    unlink_job(f, j);
    pthread_mutex_unlock(&f->mu);
    job_end(j, rc, &err);
}

/* Adds the jobs submitted since the last turn; true when stopping. */
static bool take_new(mdt_fetcher *f)
{
    job *failed = NULL;
    bool stopping;

    pthread_mutex_lock(&f->mu);
    stopping = f->stopping;
    for (job *j = f->jobs, *next; j && !stopping; j = next) {
        next = j->next;
        if (j->added)
            continue;
        if (curl_multi_add_handle(f->multi, j->easy) == CURLM_OK) {
            j->added = true;
            continue;
        }
        unlink_job(f, j);
        j->next = failed;
        failed = j;
    }
    pthread_mutex_unlock(&f->mu);
    while (failed) {
        job *j = failed;
        mdt_err err;
        failed = j->next;
        job_end(j, mdt_fail(&err, MDT_ERR_INTERNAL, "libcurl cannot add a transfer"), &err);
    }
    return stopping;
}

static void *fetcher_main(void *arg)
{
    mdt_fetcher *f = arg;
    mdt_err err;
    job *rest;

    while (!take_new(f)) {
        int running = 0, left = 0;
        CURLMsg *m;
        curl_multi_perform(f->multi, &running);
        while ((m = curl_multi_info_read(f->multi, &left))) {
            job *j = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            finish(f, j, m->data.result);
        }
        curl_multi_poll(f->multi, NULL, 0, 1000, NULL);
    }
    pthread_mutex_lock(&f->mu);
    rest = f->jobs;
    f->jobs = NULL;
    f->njobs = 0;
    pthread_mutex_unlock(&f->mu);
    while (rest) {
        job *j = rest;
        rest = j->next;
        if (j->added)
            curl_multi_remove_handle(f->multi, j->easy);
        job_end(j, mdt_fail(&err, MDT_ERR_UNAVAILABLE, "server stopping"), &err);
    }
    return NULL;
}

mdt_rc mdt_fetcher_start(int max_total, int max_per_host, mdt_fetcher **out, mdt_err *err)
{
    mdt_fetcher *f = calloc(1, sizeof(*f));

    *out = NULL;
    if (!f)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    f->max_total = max_total > 0 ? (size_t)max_total : 1;
    f->max_per_host = max_per_host > 0 ? (size_t)max_per_host : 1;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK || !(f->multi = curl_multi_init())) {
        free(f);
        return mdt_fail(err, MDT_ERR_INTERNAL, "libcurl cannot start");
    }
    pthread_mutex_init(&f->mu, NULL);
    if (pthread_create(&f->thread, NULL, fetcher_main, f) != 0) {
        curl_multi_cleanup(f->multi);
        pthread_mutex_destroy(&f->mu);
        free(f);
        return mdt_fail(err, MDT_ERR_INTERNAL, "cannot start the fetcher thread");
    }
    *out = f;
    return MDT_OK;
}

void mdt_fetcher_stop(mdt_fetcher *f)
{
    bool joined;

    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    joined = f->joined;
    f->joined = true;
    pthread_mutex_unlock(&f->mu);
    if (joined)
        return;
    curl_multi_wakeup(f->multi);
    pthread_join(f->thread, NULL);
}

void mdt_fetcher_free(mdt_fetcher *f)
{
    if (!f)
        return;
    mdt_fetcher_stop(f);
    curl_multi_cleanup(f->multi);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

size_t mdt_fetcher_active(mdt_fetcher *f)
{
    size_t n;

    pthread_mutex_lock(&f->mu);
    n = f->njobs;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Under the mutex: whether one more fetch to host fits the caps. */
static mdt_rc admit(const mdt_fetcher *f, const char *host, mdt_err *err)
{
    if (f->stopping)
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "server stopping");
    if (f->njobs >= f->max_total)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "too many fetches in progress",
                         "%zu outbound fetches in progress (fetch_max_concurrent)", f->njobs);
    if (host_jobs(f, host) >= f->max_per_host)
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "too many fetches in progress",
                         "%zu outbound fetches to %.100s in progress (fetch_max_per_host)",
                         f->max_per_host, host);
    return MDT_OK;
}

static mdt_rc submit(mdt_fetcher *f, const char *url, const mdt_fetch_opts *o,
                     const char *accept, const char *ctype, const char *body,
                     mdt_fetch_done_fn done, void *ctx, mdt_err *err);

mdt_rc mdt_fetcher_submit(mdt_fetcher *f, const char *url, const mdt_fetch_opts *o,
                          const char *accept, mdt_fetch_done_fn done, void *ctx, mdt_err *err)
{
    return submit(f, url, o, accept, NULL, NULL, done, ctx, err);
}

mdt_rc mdt_fetcher_submit_post(mdt_fetcher *f, const char *url, const mdt_fetch_opts *o,
                               const char *content_type, const char *body,
                               mdt_fetch_done_fn done, void *ctx, mdt_err *err)
{
    return submit(f, url, o, "application/json", content_type, body, done, ctx, err);
}

static mdt_rc submit(mdt_fetcher *f, const char *url, const mdt_fetch_opts *o,
                     const char *accept, const char *ctype, const char *body,
                     mdt_fetch_done_fn done, void *ctx, mdt_err *err)
{
    job *j = calloc(1, sizeof(*j));
    mdt_rc rc;

    if (!j)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    j->o = *o;
    j->done = done;
    j->done_ctx = ctx;
    mdt_buf_init(&j->body, o->max_bytes);
    j->ctx = (fetch_ctx){.out = &j->body, .h = &j->h, .max = o->max_bytes,
                         .allow_private = o->allow_private};
    if ((rc = easy_new(url, o, accept, &j->ctx, &j->hdrs, &j->easy, err)) != MDT_OK ||
        (ctype && (rc = set_post(j->easy, j->hdrs, ctype, body, err)) != MDT_OK))
        goto fail;
    rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (!(j->host = mdt_url_host(url)) ||
        curl_easy_setopt(j->easy, CURLOPT_PRIVATE, (char *)j) != CURLE_OK)
        goto fail;
    pthread_mutex_lock(&f->mu);
    if ((rc = admit(f, j->host, err)) == MDT_OK) {
        j->next = f->jobs;
        f->jobs = j;
        f->njobs++;
    }
    pthread_mutex_unlock(&f->mu);
    if (rc != MDT_OK)
        goto fail;
    curl_multi_wakeup(f->multi);
    return MDT_OK;
fail:
    job_free(j);
    return rc;
}

void mdt_fetch_waiters_wake(mdt_fetch_waiter *list)
{
    while (list) {
        mdt_fetch_waiter *w = list;
        list = w->next; /* read first: w may be freed once woken */
        w->next = NULL;
        w->wake(w->ctx);
    }
}
