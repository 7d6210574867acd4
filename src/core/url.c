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

/* The length of the "password=" or "sslpassword=" key starting at p when it
 * starts a parameter (of a query, or of a key=value connection string), else 0. */
static size_t password_key(const char *start, const char *p)
{
    static const char *const keys[] = {"password=", "sslpassword="};

    if (p != start && p[-1] != '?' && p[-1] != '&' && p[-1] != ' ')
        return 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strncmp(p, keys[i], strlen(keys[i])) == 0)
            return strlen(keys[i]);
    return 0;
}

void mdt_url_redact(const char *url, char *out, size_t n)
{
    static const char mask[] = "***";
    const char *from = NULL, *to = NULL, *auth, *p;
    size_t o = 0, k;

    if (!n)
        return;
    out[0] = '\0';
    if (!url)
        return;
    /* The userinfo's password: from the first ':' to the last '@' of the
     * authority (a password may hold an unencoded '@'). */
    if ((auth = strstr(url, "://"))) {
        const char *end;
        auth += 3;
        end = auth + strcspn(auth, "/?#");
        for (const char *q = auth; q < end; q++)
            if (*q == '@')
                to = q;
        from = to ? memchr(auth, ':', (size_t)(to - auth)) : NULL;
        if (!from)
            to = NULL;
    }
    for (p = url; *p;) {
        if (to && p == from + 1) {
            put(out, n, &o, mask, sizeof(mask) - 1);
            p = to;
        } else if ((k = password_key(url, p))) {
            put(out, n, &o, p, k);
            put(out, n, &o, mask, sizeof(mask) - 1);
            p += k;
            p += strcspn(p, "& #");
        } else {
            put(out, n, &o, p++, 1);
        }
    }
}
