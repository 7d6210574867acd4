/* JWT assertions (RFC 7521, RFC 7523): parsing, the algorithm policy, the
 * claim rules and the choice of verification key, as pure functions of the
 * assertion, the rules, a JWK Set and an injected "now". Shared by client
 * authentication (private_key_jwt, workload identity) and the JWT bearer
 * grant; they differ only in the rules they pass.
 *
 * Memory: an mdt_assertion owns its parsed JWS and claims (clear it with
 * mdt_assertion_clear); the strings in it are borrowed from those.
 * An mdt_keyset is immutable and reference-counted: it may be used from any
 * number of threads at once; the last mdt_keyset_unref frees it. */
#ifndef MDT_OAUTH_ASSERTION_H
#define MDT_OAUTH_ASSERTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/mdt.h"
#include "jose/jwk.h"
#include "jose/jws.h"

#define MDT_ASSERTION_MAX 8192    /* bytes of a compact assertion accepted */
#define MDT_ASSERTION_LEEWAY 30   /* seconds of clock skew allowed on exp, iat and nbf */
#define MDT_ASSERTION_JTI_MAX 256 /* longest jti accepted */
#define MDT_KEYSET_MAX 32         /* keys in a JWK Set */
#define MDT_KEYSET_JSON_MAX (1024 * 1024) /* bytes of a JWK Set document */

#define MDT_ASSERTION_TYPE_JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define MDT_GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"

/* --- JWK Sets --- */

typedef struct mdt_keyset mdt_keyset;

/* Parses {"keys": [...]}. Keys Mandate cannot verify with (encryption
 * keys, other curves, "use" other than "sig", SPIFFE "x509-svid" keys) are
 * skipped; SPIFFE "jwt-svid" keys are used. An RSA key without "alg" serves
 * both RS256 and PS256. No usable key, more than MDT_KEYSET_MAX keys, or not
 * a JSON object with a "keys" array -> MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_keyset_parse(const char *json, size_t len, mdt_keyset **out, mdt_err *err) MDT_WARN_UNUSED;
mdt_keyset *mdt_keyset_ref(mdt_keyset *ks);  /* returns ks */
void mdt_keyset_unref(mdt_keyset *ks);       /* NULL-safe */
size_t mdt_keyset_count(const mdt_keyset *ks); /* usable (kid, alg) entries */
/* Whether a key of the set has this RFC 7638 thumbprint (self-signed
 * certificates whose key is published at a jwks_uri). */
bool mdt_keyset_has_thumbprint(const mdt_keyset *ks, const uint8_t thumb[32]);

/* --- assertions --- */

typedef struct {
    mdt_jws *jws;        /* owned */
    json_t *claims;      /* owned */
    const char *iss, *sub, *jti; /* NULL when absent */
    int64_t exp, iat, nbf;       /* 0 when absent */
} mdt_assertion;

/* Parses a compact JWS and its claims without verifying anything. Longer
 * than MDT_ASSERTION_MAX -> MDT_ERR_TOO_LARGE; not a JWS, claims not a JSON
 * object, iss/sub/jti not strings, exp/iat/nbf not numbers, aud neither a
 * string nor an array of strings -> MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_assertion_parse(const char *compact, size_t len, mdt_assertion *out,
                           mdt_err *err) MDT_WARN_UNUSED;
void mdt_assertion_clear(mdt_assertion *a); /* NULL-safe, idempotent */

typedef struct {
    const char *iss;             /* iss must equal this */
    const char *sub;             /* sub must equal this; NULL: any non-empty sub */
    const char *const *aud;      /* aud: one of these, or an array of nothing else */
    size_t naud;
    int64_t max_lifetime;        /* exp - now and exp - iat at most this (+ leeway) */
    bool require_jti;
    const char *alg;             /* the one alg allowed (registered); NULL: any asymmetric */
} mdt_assertion_rules;

/* Checks the header alg (ES256, RS256, PS256 or EdDSA; never "none" nor
 * HMAC; the registered one when set), the typ (not an access token or a
 * DPoP proof) and the claims at now, with MDT_ASSERTION_LEEWAY on times.
 * Failure -> MDT_ERR_VERIFY with a detail naming the rule ("expired", "aud
 * does not name this server", ...). */
mdt_rc mdt_assertion_check(const mdt_assertion *a, const mdt_assertion_rules *r, int64_t now,
                           mdt_err *err) MDT_WARN_UNUSED;

/* Verifies the signature with a key of ks: with a kid, the keys of that kid
 * (and the header's alg); without, every key of the header's alg in turn.
 * No candidate key -> MDT_ERR_NOT_FOUND ("unknown kid": the caller may
 * refetch the set); bad signature -> MDT_ERR_VERIFY. *used (may be NULL):
 * the key that verified, borrowed from ks. */
mdt_rc mdt_assertion_verify(const mdt_assertion *a, const mdt_keyset *ks, const mdt_jwk **used,
                            mdt_err *err) MDT_WARN_UNUSED;

#endif
