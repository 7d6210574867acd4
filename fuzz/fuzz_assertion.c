/* RFC 7523 assertions and JWK Sets: the first byte picks the parser
 * (even: a compact assertion, parsed and checked against fixed rules;
 * odd: a JWK Set document, as fetched from a jwks_uri). */
#include "fuzz.h"
#include "oauth/assertion.h"

static int assertion(const char *s, size_t n)
{
    static const char *const aud[] = {"https://as.example.com"};
    const mdt_assertion_rules r = {.iss = "c", .sub = "c", .aud = aud, .naud = 1,
                                   .max_lifetime = 300, .require_jti = true};
    mdt_assertion a;
    mdt_err err;

    if (mdt_assertion_parse(s, n, &a, &err) == MDT_OK) {
        if (mdt_assertion_check(&a, &r, 1800000000, &err) != MDT_OK && err.rc != MDT_ERR_VERIFY)
            __builtin_trap(); /* a claim failure is always MDT_ERR_VERIFY */
        if (mdt_assertion_verify(&a, NULL, NULL, &err) == MDT_OK)
            __builtin_trap(); /* no key set: nothing verifies */
        mdt_assertion_clear(&a);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_keyset *ks = NULL;
    mdt_err err;

    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0)
        return assertion((const char *)data + 1, size - 1);
    if (mdt_keyset_parse((const char *)data + 1, size - 1, &ks, &err) == MDT_OK &&
        mdt_keyset_count(ks) == 0)
        __builtin_trap(); /* a parsed set holds at least one key */
    mdt_keyset_unref(ks);
    return 0;
}
