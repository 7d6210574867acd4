/* argon2id password hashes through libargon2. libargon2 wipes its own
 * working memory; the salt is wiped here; the caller owns (and wipes) the
 * password. */
#include "users/password.h"

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "$argon2id$"

mdt_argon2_params mdt_password_params(const mdt_config *cfg)
{
    return (mdt_argon2_params){
        .t_cost = (uint32_t)cfg->argon2_time_cost,
        .m_cost_kib = (uint32_t)cfg->argon2_memory_kib,
        .parallelism = (uint32_t)cfg->argon2_parallelism,
    };
}

mdt_rc mdt_password_hash(const mdt_argon2_params *p, const mdt_rng *rng, const char *password,
                         size_t len, char **encoded, mdt_err *err)
{
    uint8_t salt[MDT_PASSWORD_SALT_LEN];
    size_t n;
    char *out = NULL;
    mdt_rc rc;
    int r;

    *encoded = NULL;
    if (len > MDT_PASSWORD_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "password longer than 1024 bytes");
    if ((rc = mdt_random(rng, salt, sizeof(salt))) != MDT_OK)
        return mdt_fail(err, rc, "random generator failed");
    n = argon2_encodedlen(p->t_cost, p->m_cost_kib, p->parallelism, sizeof(salt),
                          MDT_PASSWORD_HASH_LEN, Argon2_id);
    if (!(out = malloc(n))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    r = argon2id_hash_encoded(p->t_cost, p->m_cost_kib, p->parallelism, password ? password : "",
                              len, salt, sizeof(salt), MDT_PASSWORD_HASH_LEN, out, n);
    if (r != ARGON2_OK) {
        rc = mdt_failf(err, r == ARGON2_MEMORY_ALLOCATION_ERROR ? MDT_ERR_NOMEM : MDT_ERR_CRYPTO,
                       "password hashing failed", "argon2id: %s", argon2_error_message(r));
        goto out;
    }
    *encoded = out;
    out = NULL;
    rc = MDT_OK;
out:
    free(out);
    mdt_wipe(salt, sizeof(salt));
    return rc;
}

mdt_rc mdt_password_verify(const char *encoded, const char *password, size_t len, mdt_err *err)
{
    int r;

    if (!encoded || strncmp(encoded, PREFIX, strlen(PREFIX)) != 0)
        return mdt_fail(err, MDT_ERR_ACCESS_DENIED, "password hash is not argon2id");
    if (len > MDT_PASSWORD_MAX)
        return mdt_fail(err, MDT_ERR_ACCESS_DENIED, "password longer than 1024 bytes");
    r = argon2id_verify(encoded, password ? password : "", len);
    if (r == ARGON2_OK)
        return MDT_OK;
    if (r == ARGON2_MEMORY_ALLOCATION_ERROR)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (r == ARGON2_VERIFY_MISMATCH)
        return mdt_fail(err, MDT_ERR_ACCESS_DENIED, "password does not match");
    return mdt_failf(err, MDT_ERR_ACCESS_DENIED, "password does not match",
                     "stored password hash unusable: %s", argon2_error_message(r));
}

/* libargon2 writes the parameters in this exact form (no leading zeros). */
static int params_prefix(const mdt_argon2_params *p, char *out, size_t n)
{
    return snprintf(out, n, PREFIX "v=%d$m=%u,t=%u,p=%u$", ARGON2_VERSION_NUMBER,
                    (unsigned)p->m_cost_kib, (unsigned)p->t_cost, (unsigned)p->parallelism);
}

bool mdt_password_needs_rehash(const char *encoded, const mdt_argon2_params *p)
{
    char want[96];
    int n = params_prefix(p, want, sizeof(want));

    if (!encoded || n <= 0 || (size_t)n >= sizeof(want))
        return true;
    return strncmp(encoded, want, (size_t)n) != 0;
}

void mdt_password_dummy(const mdt_argon2_params *p, char out[MDT_PASSWORD_DUMMY_MAX])
{
    /* salt "mandate-dummy-pw" (16 bytes); hash: 32 zero bytes */
    static const char tail[] = "bWFuZGF0ZS1kdW1teS1wdw$"
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    int n = params_prefix(p, out, MDT_PASSWORD_DUMMY_MAX);

    if (n <= 0 || (size_t)n + sizeof(tail) > MDT_PASSWORD_DUMMY_MAX) {
        out[0] = '\0';
        return;
    }
    memcpy(out + n, tail, sizeof(tail));
}
