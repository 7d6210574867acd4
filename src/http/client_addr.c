/* The client address behind trusted proxies. See client_addr.h. */
#include "http/client_addr.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/ip.h"

/* One address in canonical text: IPv4, or IPv6 with IPv4-mapped as IPv4. */
static bool canonical(const char *text, char out[MDT_IP_TEXT_MAX])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char a[16];

    if (inet_pton(AF_INET, text, a) == 1)
        return inet_ntop(AF_INET, a, out, MDT_IP_TEXT_MAX) != NULL;
    if (inet_pton(AF_INET6, text, a) != 1)
        return false;
    if (memcmp(a, mapped, sizeof(mapped)) == 0)
        return inet_ntop(AF_INET, a + 12, out, MDT_IP_TEXT_MAX) != NULL;
    return inet_ntop(AF_INET6, a, out, MDT_IP_TEXT_MAX) != NULL;
}

/* One X-Forwarded-For entry (s, n: without surrounding white space):
 * "192.0.2.1", "192.0.2.1:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". */
static bool entry_addr(const char *s, size_t n, char out[MDT_IP_TEXT_MAX])
{
    char text[MDT_IP_TEXT_MAX + 8];
    const char *colon;

    if (n == 0 || n >= sizeof(text))
        return false;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end || (end + 1 != s + n && end[1] != ':'))
            return false;
        n = (size_t)(end - s - 1);
        s++;
    } else if ((colon = memchr(s, ':', n)) && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
        n = (size_t)(colon - s); /* one colon: IPv4 with a port */
    }
    memcpy(text, s, n);
    text[n] = '\0';
    return canonical(text, out);
}

bool mdt_client_addr(const char *peer, const char *xff, const char *trusted,
                     char out[MDT_IP_TEXT_MAX])
{
    size_t end;

    out[0] = '\0';
    if (!peer || !canonical(peer, out))
        return false;
    if (!xff || !*xff || !mdt_ip_in_cidrs(out, trusted))
        return true;
    end = strlen(xff);
    for (int hops = 0; end > 0 && hops < MDT_FORWARDED_MAX_HOPS; hops++) {
        size_t start = end, b, e;
        char hop[MDT_IP_TEXT_MAX];

        while (start > 0 && xff[start - 1] != ',')
            start--;
        for (b = start; b < end && (xff[b] == ' ' || xff[b] == '\t'); b++)
            ;
        for (e = end; e > b && (xff[e - 1] == ' ' || xff[e - 1] == '\t'); e--)
            ;
        end = start > 0 ? start - 1 : 0;
        if (b == e && start > 0)
            continue; /* an empty list element ("a, , b") */
        if (!entry_addr(xff + b, e - b, hop))
            break;
        memcpy(out, hop, MDT_IP_TEXT_MAX);
        if (!mdt_ip_in_cidrs(hop, trusted))
            break;
    }
    return true;
}
