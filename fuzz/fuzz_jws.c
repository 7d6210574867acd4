/* Compact JWS as presented for introspection and revocation. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jose/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mdt_jwk *key;
    char *s = malloc(size + 1);
    mdt_jws *j = NULL;
    mdt_err err;

    if (!key && mdt_jwk_generate(MDT_ALG_ES256, &key, &err) != MDT_OK)
        abort();
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (mdt_jws_parse(s, size, 16384, &j, &err) == MDT_OK) {
        size_t plen;
        (void)mdt_jws_payload(j, &plen);
        (void)mdt_jws_kid(j);
        (void)mdt_jws_typ(j);
        if (mdt_jws_verify(j, key, &err) == MDT_OK) /* a forgery */
            __builtin_trap();
        mdt_jws_free(j);
    }
    free(s);
    return 0;
}
