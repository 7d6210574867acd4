/* Password hashing with argon2id (libargon2), in the shape of libsodium's
 * pwhash_str / pwhash_str_verify / pwhash_str_needs_rehash: the stored
 * value is the self-describing encoded string
 *   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>
 * so parameters can change without invalidating existing hashes. */
#ifndef MDT_USERS_PASSWORD_H
#define MDT_USERS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/mdt.h"

#define MDT_PASSWORD_MAX 1024      /* bytes of a password, at most */
#define MDT_PASSWORD_SALT_LEN 16   /* random salt bytes */
#define MDT_PASSWORD_HASH_LEN 32   /* argon2id output bytes */

typedef struct {
    uint32_t t_cost;      /* passes */
    uint32_t m_cost_kib;  /* memory in KiB */
    uint32_t parallelism; /* lanes */
} mdt_argon2_params;

/* The [users] argon2_* settings of cfg. */
mdt_argon2_params mdt_password_params(const mdt_config *cfg);

/* Hashes password[0..len) with a fresh MDT_PASSWORD_SALT_LEN-byte salt from
 * rng. On MDT_OK *encoded is a malloc'd NUL-terminated encoded string the
 * caller frees (free(); it holds no secret). MDT_ERR_INVALID_REQUEST when
 * len > MDT_PASSWORD_MAX, MDT_ERR_CRYPTO when argon2 fails. */
mdt_rc mdt_password_hash(const mdt_argon2_params *p, const mdt_rng *rng, const char *password,
                         size_t len, char **encoded, mdt_err *err) MDT_WARN_UNUSED;

/* MDT_OK when password[0..len) matches encoded (an argon2id encoded string;
 * constant-time comparison inside libargon2); MDT_ERR_ACCESS_DENIED when it
 * does not, when encoded is malformed or not argon2id, or when len >
 * MDT_PASSWORD_MAX; MDT_ERR_NOMEM when argon2 cannot allocate. */
mdt_rc mdt_password_verify(const char *encoded, const char *password, size_t len,
                           mdt_err *err) MDT_WARN_UNUSED;

/* True when encoded was not made by argon2id version 0x13 with exactly the
 * parameters p (or cannot be parsed): the caller should hash again. */
bool mdt_password_needs_rehash(const char *encoded, const mdt_argon2_params *p);

/* An encoded argon2id string with parameters p that no password matches,
 * for spending one verification on an unknown user. out must hold
 * MDT_PASSWORD_DUMMY_MAX bytes. */
#define MDT_PASSWORD_DUMMY_MAX 160
void mdt_password_dummy(const mdt_argon2_params *p, char out[MDT_PASSWORD_DUMMY_MAX]);

#endif
