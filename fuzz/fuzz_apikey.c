/* API key strings as presented at /token (mdt_apikey_parse): nothing is
 * looked up. Oracle: an accepted key is exactly
 * "mdk_" <client_id> "." <key_id> "." <43 base64url characters>, the
 * client_id non-empty printable ASCII of at most MDT_APIKEY_CLIENT_ID_MAX
 * bytes, the key_id "cred_" and 16 base64url characters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "iga/apikey.h"

static bool b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[i]))
            return false;
    return true;
}

static void check(const char *key, const char *cid, const char *kid)
{
    size_t nc = strlen(cid), nk = strlen(kid), nkey = strlen(key);

    if (nc == 0 || nc > MDT_APIKEY_CLIENT_ID_MAX || nk != 21 || strncmp(kid, "cred_", 5) != 0 ||
        !b64url(kid + 5, 16) || strchr(cid, ' ') || strchr(cid, '\n'))
        __builtin_trap();
    if (nkey != 4 + nc + 1 + nk + 1 + 43 || strncmp(key, "mdk_", 4) != 0 ||
        memcmp(key + 4, cid, nc) != 0 || key[4 + nc] != '.' || memcmp(key + 5 + nc, kid, nk) != 0 ||
        key[5 + nc + nk] != '.' || !b64url(key + 6 + nc + nk, 43))
        __builtin_trap(); /* the parts put together give the key back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *cid = NULL, *kid = NULL;
    mdt_arena a;
    mdt_err err;
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mdt_arena_init(&a, 1024);
    if (mdt_apikey_parse(s, &a, &cid, &kid, &err) == MDT_OK)
        check(s, cid, kid);
    else if (err.rc != MDT_ERR_INVALID_CLIENT || cid || kid)
        __builtin_trap(); /* every malformed key is invalid_client, nothing returned */
    mdt_arena_free(&a);
    free(s);
    return 0;
}
