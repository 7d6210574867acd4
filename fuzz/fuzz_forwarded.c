/* X-Forwarded-For values from a trusted proxy (the client address), and
 * header fields as the framing check sees them. The input is split at the
 * first NUL: before it the X-Forwarded-For value, after it "name\nvalue\n"
 * pairs for the framing check. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/client_addr.h"
#include "http/framing.h"

static void framing(char *s)
{
    mdt_framing f = {0};
    mdt_err err;

    for (char *line = s; line && *line;) {
        char *value = strchr(line, '\n'), *next = NULL;
        if (value) {
            *value++ = '\0';
            if ((next = strchr(value, '\n')))
                *next++ = '\0';
        }
        mdt_framing_add(&f, line, value ? value : "");
        line = next;
    }
    /* a refusal is always a client fault, 400 */
    if (mdt_framing_check(&f, false, &err) != MDT_OK && err.rc != MDT_ERR_INVALID_REQUEST)
        __builtin_trap();
    if (mdt_framing_check(&f, true, &err) != MDT_OK && err.rc != MDT_ERR_INVALID_REQUEST)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[MDT_IP_TEXT_MAX];
    unsigned char bin[16];
    size_t xlen;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    xlen = strlen(s);
    if (!mdt_client_addr("10.0.0.1", s, "10.0.0.0/8, 2001:db8::/32", out))
        __builtin_trap();
    /* the result is always one address in canonical text */
    if (inet_pton(strchr(out, ':') ? AF_INET6 : AF_INET, out, bin) != 1)
        __builtin_trap();
    if (xlen < size)
        framing(s + xlen + 1);
    free(s);
    return 0;
}
