/* JWTs made by hand for the tests of assertions and software statements. */
#ifndef MDT_TESTS_TEST_JWT_H
#define MDT_TESTS_TEST_JWT_H

#include "core/b64.h"
#include "jose/jwk.h"
#include "jose/jws.h"

/* header.payload.signature with any header, signed by key (NULL: an empty
 * signature); a static buffer, overwritten by the next call. */
static inline char *make_jwt(const mdt_jwk *key, const char *header, const char *payload)
{
    static char out[32768];
    uint8_t sig[MDT_JWS_SIG_MAX];
    size_t n = 0, siglen = 0;
    mdt_err err;

    n += mdt_b64url_encode((const uint8_t *)header, strlen(header), out);
    out[n++] = '.';
    n += mdt_b64url_encode((const uint8_t *)payload, strlen(payload), out + n);
    if (key)
        assert_int_equal(mdt_jwk_sign_bytes(key, out, n, sig, &siglen, &err), MDT_OK);
    out[n++] = '.';
    n += mdt_b64url_encode(sig, siglen, out + n);
    out[n] = '\0';
    return out;
}

#endif
