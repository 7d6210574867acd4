#include "iga/secret.h"

#include <string.h>

#include "core/b64.h"
#include "core/hash.h"

#define ID_BYTES_MAX 64
#define ID_CHARS_MAX 88 /* >= mdt_b64url_len(ID_BYTES_MAX) + 1 */

mdt_rc mdt_secret_generate(const mdt_rng *rng, char out[MDT_SECRET_LEN + 1], mdt_err *err)
{
    out[0] = '\0';
    if (mdt_random_b64url(rng, MDT_SECRET_BYTES, out) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CRYPTO, "random generator failed");
    return MDT_OK;
}

void mdt_secret_hash(const char *secret, size_t len, uint8_t out[MDT_SECRET_HASH_LEN])
{
    mdt_sha256(secret, len, out);
}

bool mdt_secret_matches(const char *secret, size_t len, const uint8_t hash[MDT_SECRET_HASH_LEN])
{
    uint8_t h[MDT_SECRET_HASH_LEN];
    bool ok;

    mdt_secret_hash(secret, len, h);
    ok = mdt_ct_eq(h, sizeof(h), hash, MDT_SECRET_HASH_LEN);
    mdt_wipe(h, sizeof(h));
    return ok;
}

mdt_rc mdt_random_id(const mdt_rng *rng, const char *prefix, size_t nbytes, mdt_arena *a,
                     const char **out, mdt_err *err)
{
    char rnd[ID_CHARS_MAX];

    *out = NULL;
    if (nbytes == 0 || nbytes > ID_BYTES_MAX)
        return mdt_fail(err, MDT_ERR_INTERNAL, "bad identifier length");
    if (mdt_random_b64url(rng, nbytes, rnd) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CRYPTO, "random generator failed");
    *out = mdt_arena_printf(a, "%s%s", prefix, rnd);
    if (!*out)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}
