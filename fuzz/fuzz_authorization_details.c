/* RFC 9396 authorization_details as a client sends them to /bc-authorize
 * (mdt_authorization_details_check). Oracles: an accepted value is at most
 * the size limit and comes back unchanged, and is accepted again (what the
 * person was shown is what the token carries). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oauth/authorization_details.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *out = NULL, *again = NULL;
    mdt_arena a;
    mdt_err err;
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mdt_arena_init(&a, 4096);
    if (mdt_authorization_details_check(s, &a, &out, &err) == MDT_OK) {
        if (!out || strlen(out) > MDT_AUTHZ_DETAILS_MAX_BYTES ||
            strcmp(out, s) != 0 || mdt_authorization_details_check(out, &a, &again, &err) != MDT_OK ||
            strcmp(out, again) != 0)
            __builtin_trap();
    } else if (err.rc != MDT_ERR_INVALID_AUTHORIZATION_DETAILS && err.rc != MDT_ERR_NOMEM) {
        __builtin_trap();
    }
    mdt_arena_free(&a);
    free(s);
    return 0;
}
