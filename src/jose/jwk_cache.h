/* A per-thread cache of public keys imported from JWK text (DPoP proofs
 * carry their key in every proof: importing it costs several signature
 * verifications, and a client keeps the same key for many proofs). */
#ifndef MDT_JOSE_JWK_CACHE_H
#define MDT_JOSE_JWK_CACHE_H

#include <stddef.h>

#include "core/mdt.h"
#include "jose/jwk.h"

#define MDT_JWK_CACHE_SLOTS 64 /* keys kept per thread; the least recently used goes */

/* The key of JWK text json, as mdt_jwk_from_json_rsa(json, len, rsa_alg)
 * makes it, with the same outcome for refused text (nothing is kept of a
 * refusal). An entry is found only by the very same text and rsa_alg
 * (SHA-256 of the text): another key, or the same key with other members,
 * is another entry. *out is borrowed from this thread's cache and valid
 * until this thread's next mdt_jwk_cache_get or mdt_jwk_cache_clear. */
mdt_rc mdt_jwk_cache_get(const char *json, size_t len, mdt_alg rsa_alg, const mdt_jwk **out,
                         mdt_err *err) MDT_WARN_UNUSED;

size_t mdt_jwk_cache_count(void); /* entries of this thread's cache */
void mdt_jwk_cache_clear(void);   /* frees this thread's entries (also done at thread exit) */

#endif
