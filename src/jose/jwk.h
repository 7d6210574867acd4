/* JSON Web Keys (RFC 7517) for signing: generation, PKCS#8 import/export,
 * public JWK parsing and rendering, RFC 7638 thumbprints.
 *
 * An mdt_jwk is immutable once built: it may be used to sign and verify from
 * any number of threads at once without locking. */
#ifndef MDT_JOSE_JWK_H
#define MDT_JOSE_JWK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/mdt.h"

typedef enum { MDT_ALG_NONE = 0, MDT_ALG_ES256, MDT_ALG_RS256, MDT_ALG_PS256, MDT_ALG_EDDSA } mdt_alg;

#define MDT_JWK_JSON_MAX 8192  /* largest public JWK mdt_jwk_from_json accepts */
#define MDT_JWK_KID_MAX 255    /* longest kid accepted */
#define MDT_JWS_SIG_MAX 1024   /* largest signature: RSA-8192 */

/* "ES256", "RS256", "PS256", "EdDSA"; "none" for MDT_ALG_NONE or unknown. */
const char *mdt_alg_name(mdt_alg alg);
/* Exact, case-sensitive; anything else ("none", "HS256", "es256") ->
 * MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_alg_parse(const char *s, mdt_alg *out) MDT_WARN_UNUSED;

typedef struct mdt_jwk mdt_jwk;

/* New key pair: P-256 (ES256), RSA-2048 (RS256, PS256), Ed25519 (EdDSA).
 * kid = base64url RFC 7638 thumbprint. *out freed with mdt_jwk_free. */
mdt_rc mdt_jwk_generate(mdt_alg alg, mdt_jwk **out, mdt_err *err) MDT_WARN_UNUSED;

/* PKCS#8 DER of the private key, malloc'ed: the caller must mdt_wipe then
 * free it. A public-only key -> MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_jwk_export_private(const mdt_jwk *k, uint8_t **der, size_t *len, mdt_err *err) MDT_WARN_UNUSED;

/* Reverse of export. The key type must fit alg (P-256 for ES256, RSA 2048 to
 * 8192 bits for RS256/PS256, Ed25519 for EdDSA), else MDT_ERR_INVALID_REQUEST.
 * kid NULL -> the thumbprint. */
mdt_rc mdt_jwk_import_private(mdt_alg alg, const char *kid, const uint8_t *der, size_t len,
                              mdt_jwk **out, mdt_err *err) MDT_WARN_UNUSED;

/* Public JWK: kty EC (crv P-256), RSA (2048 to 8192 bits) or OKP (crv
 * Ed25519). "alg" optional but must fit kty when present; without it EC ->
 * ES256, OKP -> EdDSA, RSA -> RS256. "use", when present, must be "sig".
 * "kid" optional (default: thumbprint). Private members ("d", "p", "q", "dp",
 * "dq", "qi", "oth", "k") -> MDT_ERR_INVALID_REQUEST; len > MDT_JWK_JSON_MAX ->
 * MDT_ERR_TOO_LARGE; anything else malformed -> MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_jwk_from_json(const char *json, size_t len, mdt_jwk **out, mdt_err *err) MDT_WARN_UNUSED;
/* Same, but an RSA key without "alg" gets rsa_alg (MDT_ALG_RS256 or
 * MDT_ALG_PS256), e.g. the alg a client registered. */
mdt_rc mdt_jwk_from_json_rsa(const char *json, size_t len, mdt_alg rsa_alg, mdt_jwk **out,
                             mdt_err *err) MDT_WARN_UNUSED;

/* Appends the compact public JWK: kty, (crv), key members, "use":"sig",
 * "alg", "kid". Never contains private material. */
mdt_rc mdt_jwk_public_json(const mdt_jwk *k, mdt_buf *out, mdt_err *err) MDT_WARN_UNUSED;
/* RFC 7638 SHA-256 thumbprint (computed once at construction). */
mdt_rc mdt_jwk_thumbprint(const mdt_jwk *k, uint8_t out[32], mdt_err *err) MDT_WARN_UNUSED;

const char *mdt_jwk_kid(const mdt_jwk *k);  /* borrowed, lives as long as k */
mdt_alg mdt_jwk_alg(const mdt_jwk *k);
bool mdt_jwk_has_private(const mdt_jwk *k);
void mdt_jwk_free(mdt_jwk *k);  /* NULL-safe */

/* Raw JWS signature over msg in JOSE form (ES256: 64-byte R||S; RSA: modulus
 * size; EdDSA: 64 bytes). sig holds MDT_JWS_SIG_MAX bytes. Public-only key ->
 * MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_jwk_sign_bytes(const mdt_jwk *k, const void *msg, size_t n, uint8_t sig[MDT_JWS_SIG_MAX],
                          size_t *siglen, mdt_err *err) MDT_WARN_UNUSED;
/* MDT_OK or MDT_ERR_VERIFY (bad signature, wrong length, DER-encoded ECDSA). */
mdt_rc mdt_jwk_verify_bytes(const mdt_jwk *k, const void *msg, size_t n, const uint8_t *sig,
                            size_t siglen, mdt_err *err) MDT_WARN_UNUSED;

/* Appends the base64url JWS protected header {"alg":..,"typ":..,"kid":..}
 * for this key (typ omitted when NULL). Precomputed at construction for typ
 * NULL, "JWT" and "at+jwt"; built on the fly for others. */
mdt_rc mdt_jwk_jws_header(const mdt_jwk *k, const char *typ, mdt_buf *out, mdt_err *err) MDT_WARN_UNUSED;

#endif
