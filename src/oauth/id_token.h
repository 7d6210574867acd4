/* OpenID Connect Core 1.0 §2 ID tokens, signed by the server's keyring
 * (typ "JWT"), and the at_hash of §3.1.3.6.
 *
 * Memory: strings returned live in the arena passed in. */
#ifndef MDT_OAUTH_ID_TOKEN_H
#define MDT_OAUTH_ID_TOKEN_H

#include <stdbool.h>

#include "app/env.h"
#include "core/arena.h"
#include "iga/client.h"

#define MDT_ACR_PASSWORD "urn:mandate:acr:pwd" /* the acr of a password login */
#define MDT_TOKEN_HASH_MAX 64                  /* base64url of half a SHA-512, with NUL */
#define MDT_ID_TOKEN_HINT_MAX 16384            /* bytes of an id_token_hint */

typedef struct {
    const mdt_client *client; /* aud */
    const char *sub;          /* the username */
    const char *nonce;        /* from the authorization request; NULL when none */
    int64_t auth_time;
    const char *amr;          /* space-separated; NULL when none */
    const char *sid;          /* the session's public identifier; NULL when none */
    const char *access_token; /* for at_hash; NULL when none */
    int64_t iat;
    int64_t exp;
} mdt_id_token_params;

/* OIDC Core §3.1.3.6: base64url of the left half of the hash of token, the
 * hash being that of the JWS alg (SHA-256 for ES256, RS256, PS256; SHA-512
 * for EdDSA with Ed25519, as the OpenID Foundation's errata and the
 * openid-client family compute it). out holds MDT_TOKEN_HASH_MAX bytes. */
mdt_rc mdt_oidc_token_hash(const char *alg, const char *token, char out[MDT_TOKEN_HASH_MAX],
                           mdt_err *err) MDT_WARN_UNUSED;

/* Signs an ID token with the key that signs at p->iat; *out in a. */
mdt_rc mdt_id_token_mint(mdt_env *env, mdt_arena *a, const mdt_id_token_params *p,
                         const char **out, mdt_err *err) MDT_WARN_UNUSED;

/* The ID token a grant issues beside its access token (OIDC Core
 * §3.1.3.3) when scope has openid; otherwise *out is left as it is. p
 * names the person and the sign-in (sub, auth_time, amr, nonce, sid) and
 * the access token of its at_hash; iat is now and exp now + [tokens]
 * access_token_ttl. */
mdt_rc mdt_id_token_beside(mdt_env *env, mdt_arena *a, int64_t now, const char *scope,
                           mdt_id_token_params p, const char **out, mdt_err *err) MDT_WARN_UNUSED;

/* An ID token this server signed, given back as a hint (id_token_hint,
 * RP-Initiated Logout §2): its signature by the key ring at now, typ "JWT",
 * iss this issuer, and the client (aud) and person (sub) it names, into
 * *client_id and *sub (in a). Expired tokens are accepted. Anything else is
 * MDT_ERR_INVALID_REQUEST (or the verification's error). */
mdt_rc mdt_id_token_hint_verify(mdt_env *env, int64_t now, mdt_arena *a, const char *hint,
                                const char **client_id, const char **sub,
                                mdt_err *err) MDT_WARN_UNUSED;

/* True when the space-separated scope contains word. */
bool mdt_scope_has(const char *scope, const char *word);

#endif
