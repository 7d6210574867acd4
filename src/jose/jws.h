/* JSON Web Signature (RFC 7515), compact serialization only. */
#ifndef MDT_JOSE_JWS_H
#define MDT_JOSE_JWS_H

#include <stddef.h>

#include "core/buf.h"
#include "core/mdt.h"
#include "jose/jwk.h"

/* Appends header.payload.signature to out. The header is exactly
 * {"alg":"..","typ":"<typ>","kid":"<kid>"} (typ omitted when NULL). */
mdt_rc mdt_jws_sign(const mdt_jwk *key, const char *typ, const char *payload, size_t payload_len,
                    mdt_buf *out, mdt_err *err) MDT_WARN_UNUSED;

typedef struct mdt_jws mdt_jws;

/* Parses without verifying: three base64url parts (the signature may be
 * empty), the header a JSON object without duplicate members, with a string
 * "alg", string "kid"/"typ" when present, and no "crit". len > max_len ->
 * MDT_ERR_TOO_LARGE; malformed -> MDT_ERR_INVALID_REQUEST. *out freed with
 * mdt_jws_free. */
mdt_rc mdt_jws_parse(const char *compact, size_t len, size_t max_len, mdt_jws **out,
                     mdt_err *err) MDT_WARN_UNUSED;

/* Borrowed strings, valid until mdt_jws_free. */
const char *mdt_jws_alg(const mdt_jws *j);  /* header alg as written */
const char *mdt_jws_kid(const mdt_jws *j);  /* NULL when absent */
const char *mdt_jws_typ(const mdt_jws *j);  /* NULL when absent */
const char *mdt_jws_payload(const mdt_jws *j, size_t *len);  /* decoded, NUL-terminated */
const char *mdt_jws_header(const mdt_jws *j, size_t *len);   /* decoded header JSON */

/* The header's "jwk" member (DPoP proofs) as a public key; absent or invalid
 * -> MDT_ERR_INVALID_REQUEST. The key's alg is the header's alg when it fits
 * the key type (so an RSA jwk in a PS256 proof is a PS256 key). */
mdt_rc mdt_jws_header_jwk(const mdt_jws *j, mdt_jwk **out, mdt_err *err) MDT_WARN_UNUSED;

/* The same key and outcome, imported once per thread (jose/jwk_cache.h):
 * *out is borrowed, valid until this thread's next cached import. */
mdt_rc mdt_jws_header_jwk_cached(const mdt_jws *j, const mdt_jwk **out,
                                 mdt_err *err) MDT_WARN_UNUSED;

/* Verifies the signature with key. The header alg must equal the key's alg
 * exactly: "none", HS*, or any mismatch -> MDT_ERR_VERIFY. ECDSA signatures
 * must be the 64-byte JOSE R||S form. */
mdt_rc mdt_jws_verify(const mdt_jws *j, const mdt_jwk *key, mdt_err *err) MDT_WARN_UNUSED;

void mdt_jws_free(mdt_jws *j);  /* NULL-safe */

#endif
