#include "core/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define HOST_MAX 255

static char *lower_dup(const char *s)
{
    char *d = strdup(s);

    for (char *p = d; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return d;
}

bool mdt_url_scheme_host(const char *url, char **scheme, char **host)
{
    CURLU *u = NULL;
    char *s = NULL, *h = NULL;
    bool ok = false;

    if (scheme)
        *scheme = NULL;
    *host = NULL;
    if (!url || !(u = curl_url()))
        goto out;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h || !h[0] ||
        (scheme && curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK))
        goto out;
    if (!(*host = lower_dup(h)) || (scheme && !(*scheme = lower_dup(s))))
        goto out;
    ok = true;
out:
    if (!ok) {
        free(*host);
        *host = NULL;
    }
    curl_free(s);
    curl_free(h);
    curl_url_cleanup(u);
    return ok;
}

char *mdt_url_host(const char *url)
{
    char *host;

    return mdt_url_scheme_host(url, NULL, &host) ? host : NULL;
}

/* The address of an IP literal host, brackets optional around IPv6:
 * AF_INET or AF_INET6 with b filled, or 0 when host is not one. */
static int host_addr(const char *host, unsigned char b[16])
{
    char tmp[HOST_MAX + 1];
    size_t n = host ? strlen(host) : 0;

    if (n == 0 || n > HOST_MAX)
        return 0;
    if (host[0] == '[') {
        if (n < 3 || host[n - 1] != ']')
            return 0;
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        return inet_pton(AF_INET6, tmp, b) == 1 ? AF_INET6 : 0;
    }
    if (inet_pton(AF_INET, host, b) == 1)
        return AF_INET;
    return inet_pton(AF_INET6, host, b) == 1 ? AF_INET6 : 0;
}

bool mdt_host_is_loopback_ip(const char *host)
{
    unsigned char b[16];

    switch (host_addr(host, b)) {
    case AF_INET: return b[0] == 127;
    case AF_INET6: return memcmp(b, &in6addr_loopback, 16) == 0;
    default: return false;
    }
}

bool mdt_host_is_loopback(const char *host)
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char b[16];

    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0 || mdt_host_is_loopback_ip(host))
        return true;
    return host_addr(host, b) == AF_INET6 && memcmp(b, v4mapped, sizeof(v4mapped)) == 0 &&
           b[12] == 127;
}

/* Appends [s, s + len) to out[*at..n - 1). */
static void put(char *out, size_t n, size_t *at, const char *s, size_t len)
{
    while (len-- && *at + 1 < n)
        out[(*at)++] = *s++;
    out[*at] = '\0';
}

void mdt_url_redact(const char *url, char *out, size_t n)
{
    static const char mask[] = "***";
    const char *p, *auth, *auth_end, *at, *colon;
    size_t o = 0;

    if (!n)
        return;
    out[0] = '\0';
    if (!url)
        return;
    p = url;
    if ((auth = strstr(url, "://"))) {
        auth += 3;
        auth_end = auth + strcspn(auth, "/?#");
        at = NULL;
        for (const char *q = auth; q < auth_end; q++)
            if (*q == '@')
                at = q; /* the last '@': a password may contain one unencoded */
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            put(out, n, &o, url, (size_t)(colon + 1 - url));
            put(out, n, &o, mask, sizeof(mask) - 1);
            p = at;
        }
    }
    /* The query's password= parameters, in the rest. */
    const char *query = strchr(p, '?');
    if (!query) {
        put(out, n, &o, p, strlen(p));
        return;
    }
    put(out, n, &o, p, (size_t)(query + 1 - p));
    for (const char *q = query + 1; *q;) {
        size_t len = strcspn(q, "&#");
        if (len >= 9 && strncmp(q, "password=", 9) == 0) {
            put(out, n, &o, q, 9);
            put(out, n, &o, mask, sizeof(mask) - 1);
        } else {
            put(out, n, &o, q, len);
        }
        q += len;
        if (*q == '#') {
            put(out, n, &o, q, strlen(q));
            break;
        }
        if (*q == '&')
            put(out, n, &o, q++, 1);
    }
}
