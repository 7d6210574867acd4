/* Public JWKs (registered client keys later, DPoP headers). */
#include "fuzz.h"
#include "jose/jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_jwk *k = NULL;
    mdt_err err;
    mdt_buf b;

    if (mdt_jwk_from_json((const char *)data, size, &k, &err) == MDT_OK) {
        uint8_t tp[32];
        mdt_buf_init(&b, 65536);
        if (mdt_jwk_public_json(k, &b, &err) != MDT_OK || mdt_jwk_thumbprint(k, tp, &err) != MDT_OK)
            __builtin_trap();
        mdt_buf_free(&b);
        mdt_jwk_free(k);
    }
    return 0;
}
