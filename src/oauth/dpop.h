/* DPoP (RFC 9449): proofs of possession of a key sent in the DPoP header,
 * checked at /token, /par, /userinfo and /forward-auth, and the nonces
 * this server issues for them (RFC 9449 §8, §9). */
#ifndef MDT_OAUTH_DPOP_H
#define MDT_OAUTH_DPOP_H

#include <stdbool.h>
#include <stddef.h>

#include "app/env.h"
#include "core/mdt.h"
#include "msg/msg.h"

#define MDT_DPOP_JKT_LEN 43     /* base64url (no padding) of a SHA-256 JWK thumbprint (RFC 7638) */
#define MDT_DPOP_PROOF_MAX 8192 /* bytes of a DPoP header value */
#define MDT_DPOP_NONCE_MAX 128  /* bytes of a nonce this server issues, NUL included */

/* What the proof must say about the request it accompanies. */
typedef struct {
    const char *htm; /* the request's HTTP method */
    const char *htu; /* its target URI; query and fragment are ignored and
                      * both sides normalised as RFC 9449 §4.3 item 9 says */
    const char *access_token; /* the access token presented with the proof:
                               * ath must be its SHA-256; NULL where none is
                               * (/token, /par) */
    bool nonce; /* a nonce of this server is required (RFC 9449 §8, §9) */
    bool defer_jti; /* the proof's jti is not recorded here: the caller
                     * records it (out->jti) in the commit of the decision
                     * the proof is for (mdt_audit_event.uses) */
} mdt_dpop_expect;

#define MDT_DPOP_JTI_MAX 256 /* bytes of a proof's jti */

/* The refusal of a proof whose jti was recorded before (a replay). */
#define MDT_DPOP_REPLAYED "the DPoP proof was used before (its jti is spent)"

/* A proof that passed. */
typedef struct {
    char jkt[MDT_DPOP_JKT_LEN + 1]; /* thumbprint of the proof's public key */
    /* exp->defer_jti: the replay-cache entry the caller records (the
     * strings are the ones below) */
    mdt_jti_use_rec jti;
    char jti_issuer[5 + MDT_DPOP_JKT_LEN + 1]; /* "dpop:" and jkt */
    char jti_value[MDT_DPOP_JTI_MAX + 1];
} mdt_dpop_proof;

/* Checks proof (the DPoP header's value) per RFC 9449 §4.3: one JWT with
 * typ dpop+jwt, alg one of the asymmetric algorithms this server
 * advertises, a public jwk without private members that verifies the
 * signature, htm and htu matching exp, iat within the accepted window, ath
 * when exp->access_token is given, a fresh nonce of this server when
 * exp->nonce (or when the proof carries one), and a jti not seen before:
 * recorded in the store's replay cache (mdt_store_jti_use), shared by every
 * node, for as long as the proof would be accepted. Only then is the proof
 * used, so a refused proof records nothing. With exp->defer_jti nothing is
 * recorded: out->jti is the entry, and a replay shows when the caller
 * records it.
 * MDT_ERR_INVALID_DPOP_PROOF with a clear message for any fault of the
 * proof; MDT_ERR_USE_DPOP_NONCE when a nonce is required or stale (send
 * mdt_dpop_nonce in a DPoP-Nonce header with the error); store faults as
 * they are. */
mdt_rc mdt_dpop_check(mdt_env *env, const char *proof, const mdt_dpop_expect *exp,
                      mdt_dpop_proof *out, mdt_err *err) MDT_WARN_UNUSED;

/* mdt_dpop_check once per request: a request run again (after an external
 * PDP answered, or an outbound fetch) gets the key its proof proved in the
 * first run, kept in req->dpop_jkt_used, instead of taking its own proof
 * for a replay. *jkt is the proof's key thumbprint, in req's arena. With
 * exp->defer_jti, the jti to record is kept in req->dpop_jti (in req's
 * arena, for every run of the request). */
mdt_rc mdt_dpop_check_once(mdt_env *env, mdt_req *req, const char *proof,
                           const mdt_dpop_expect *exp, const char **jkt,
                           mdt_err *err) MDT_WARN_UNUSED;

/* The nonce to hand out now (DPoP-Nonce header): valid at every node of a
 * deployment and rotated, the previous one accepted for a while after. */
mdt_rc mdt_dpop_nonce(mdt_env *env, char out[MDT_DPOP_NONCE_MAX], mdt_err *err) MDT_WARN_UNUSED;

/* The algorithms a proof may use, as dpop_signing_alg_values_supported
 * (discovery, RFC 9728 metadata) and the algs of a DPoP challenge (§7.1). */
#define MDT_DPOP_ALGS_JSON "[\"ES256\",\"PS256\",\"RS256\",\"EdDSA\"]"
#define MDT_DPOP_ALGS_TEXT "ES256 PS256 RS256 EdDSA"
/* Whether [dpop] nonce requires a nonce here: at /token and /par
 * (resource false) with `token` or `all`, at the APIs that take access
 * tokens (resource true) with `all`. */
bool mdt_dpop_nonce_required(const mdt_env *env, bool resource);

/* A DPoP-Nonce header (RFC 9449 §8, §9) with the current nonce on resp:
 * when rc (the outcome of the proof's check) is MDT_ERR_USE_DPOP_NONCE, and
 * on every answer where [dpop] nonce requires one (resource: at an API
 * rather than /token or /par), so that the client always has the current
 * one. */
void mdt_dpop_nonce_header(mdt_env *env, mdt_req *req, mdt_resp *resp, bool resource, mdt_rc rc);

/* url as RFC 9449 §4.3 item 9 compares it: scheme and host in lower case,
 * the scheme's default port removed, percent-encodings in upper case and
 * those of unreserved characters decoded (RFC 3986 §6.2.2, §6.2.3), an
 * empty path as "/", without query and fragment. false when url is not an
 * absolute http(s) URL with a host (or has userinfo) or does not fit in n. */
bool mdt_dpop_htu_normalise(const char *url, char *out, size_t n);

#endif
