/* Generated client credentials: secrets (also the secret part of API keys,
 * iga/apikey.h) and the random identifiers of clients and credentials. A
 * secret is 32 random bytes from the injected RNG, base64url-encoded (43
 * characters), shown once and stored only as its SHA-256. */
#ifndef MDT_IGA_SECRET_H
#define MDT_IGA_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/mdt.h"

#define MDT_SECRET_BYTES 32
#define MDT_SECRET_LEN 43     /* base64url of MDT_SECRET_BYTES, no padding */
#define MDT_SECRET_HASH_LEN 32 /* SHA-256, = MDT_HASH_LEN of the store */
#define MDT_CLIENT_ID_BYTES 16 /* "mdt_" + 22 characters */
#define MDT_CRED_ID_BYTES 12   /* "cred_" + 16 characters */

/* Writes a fresh secret and its NUL into out. The caller wipes out (mdt_wipe)
 * when done with it. */
mdt_rc mdt_secret_generate(const mdt_rng *rng, char out[MDT_SECRET_LEN + 1],
                           mdt_err *err) MDT_WARN_UNUSED;
/* SHA-256 of the presented secret bytes. */
void mdt_secret_hash(const char *secret, size_t len, uint8_t out[MDT_SECRET_HASH_LEN]);
/* Constant-time check of a presented secret against a stored hash. */
bool mdt_secret_matches(const char *secret, size_t len, const uint8_t hash[MDT_SECRET_HASH_LEN]);
/* prefix + nbytes random bytes base64url, allocated in a. */
mdt_rc mdt_random_id(const mdt_rng *rng, const char *prefix, size_t nbytes, mdt_arena *a,
                     const char **out, mdt_err *err) MDT_WARN_UNUSED;

#endif
