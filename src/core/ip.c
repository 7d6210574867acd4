/* IP addresses against lists of CIDRs. See ip.h. */
#define _GNU_SOURCE
#include "core/ip.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mdt.h"

typedef struct {
    uint8_t addr[16];
    int bits;
    int family;
} cidr;

/* The parsed list: a documented cache, parsed again only when the text
 * differs (one configuration per process in practice). */
static struct {
    pthread_mutex_t mu;
    char *src;
    cidr list[MDT_CIDRS_MAX];
    size_t n;
} cidrs_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

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

    cidrs_cache.n = 0;
    while (*p && cidrs_cache.n < MDT_CIDRS_MAX) {
        size_t len = strcspn(p, ",");
        const char *q = p;
        size_t n = len;

        while (n && *q == ' ') {
            q++;
            n--;
        }
        while (n && q[n - 1] == ' ')
            n--;
        if (n && parse_cidr(q, n, &cidrs_cache.list[cidrs_cache.n]))
            cidrs_cache.n++;
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
    pthread_mutex_lock(&cidrs_cache.mu);
    if (!cidrs_cache.src || strcmp(cidrs_cache.src, cidrs) != 0) {
        free(cidrs_cache.src);
        cidrs_cache.src = mdt_strdup(cidrs);
        parse_list(cidrs);
        if (!cidrs_cache.src)
            cidrs_cache.n = 0; /* NOMEM: trust nobody, parse again next time */
    }
    for (size_t i = 0; i < cidrs_cache.n && !hit; i++)
        hit = cidrs_cache.list[i].family == family &&
              prefix_eq(cidrs_cache.list[i].addr, addr, cidrs_cache.list[i].bits);
    pthread_mutex_unlock(&cidrs_cache.mu);
    return hit;
}

