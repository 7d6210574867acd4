/* URL helpers of core: the input is a URL, and also read as a bare host.
 * mdt_url_host gives NULL or a non-empty lower-case host; a loopback IP
 * literal is also loopback, and is made only of address characters. */
#include <stdlib.h>
#include <string.h>

#include "core/url.h"
#include "fuzz.h"

#define FUZZ_TEXT_MAX 4096

static void host_rules(const char *h)
{
    if (mdt_host_is_loopback_ip(h) &&
        (!mdt_host_is_loopback(h) || h[strspn(h, "0123456789abcdefABCDEF.:[]")]))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s, *host, *scheme, *host2;

    if (size > FUZZ_TEXT_MAX || !(s = malloc(size + 1)))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    host_rules(s);
    if ((host = mdt_url_host(s))) {
        if (!host[0])
            __builtin_trap();
        for (const char *p = host; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                __builtin_trap();
        host_rules(host);
    }
    if (mdt_url_scheme_host(s, &scheme, &host2)) {
        if (!host || strcmp(host, host2) != 0 || !scheme || !scheme[0])
            __builtin_trap(); /* both entry points read the same host */
        free(scheme);
        free(host2);
    } else if (host) {
        __builtin_trap();
    }
    free(host);
    free(s);
    return 0;
}
