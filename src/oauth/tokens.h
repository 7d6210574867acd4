/* Minting and reading access tokens: JWT (RFC 9068) or opaque, with the
 * claims of SPEC §2.5. One claim builder serves both formats, so that
 * introspection returns the same claims for either. */
#ifndef MDT_OAUTH_TOKENS_H
#define MDT_OAUTH_TOKENS_H

#include <jansson.h>

#include "app/env.h"
#include "core/arena.h"
#include "core/buf.h"
#include "iga/client.h"

typedef struct {
    const mdt_client *client;
    const char *sub;          /* the client_id when there is no user */
    const char *scope;        /* space-separated, granted */
    const char *const *aud;   /* one or more audiences */
    size_t naud;
    const char *auth_method;  /* app.auth */
    const char *cnf_x5t;      /* RFC 8705 x5t#S256 of the certificate the token is bound to; NULL */
    const char *cnf_jkt;      /* RFC 9449 jkt of the DPoP key the token is bound to; NULL */
    int64_t auth_time;        /* when the user authenticated; 0 when no user */
    const char *amr;          /* the user's authentication methods, space-separated; NULL */
    int64_t iat;
    int64_t exp;
    const char *jti;          /* chosen beforehand (recorded before minting); NULL: a new one */
    const char *approval;     /* app.approval: the id of the approval behind the grant; NULL */
    const char *act;          /* RFC 8693 act: JSON object text (trusted, ours); NULL */
    const char *authorization_details; /* RFC 9396: JSON array text (validated); NULL */
    const char *sid;          /* the person's web session the token ends with (logout); NULL:
                                 none (no session, or a grant for offline access) */
    const char *lineage;      /* what a delegated token was exchanged from (oauth/delegation.h):
                                 JSON object text (ours); NULL */
} mdt_grant;

/* RFC 9449 §5: the DPoP key a refresh token issued with g is bound to: the
 * access token's for a public client, none ("") for a confidential one
 * (whose refresh tokens its authentication protects). */
static inline const char *mdt_refresh_dpop_jkt(const mdt_grant *g)
{
    return g->cnf_jkt && mdt_str_eq(g->auth_method, "none") ? g->cnf_jkt : "";
}

#define MDT_JTI_BYTES 16 /* random bytes of a jti */

typedef struct {
    const char *access_token; /* arena */
    const char *jti;
    const char *claims;       /* JSON object text */
    int64_t expires_in;
    bool opaque;
    const char *token_type;   /* the response's token_type; NULL: Bearer */
    /* An opaque token's row (arena), not yet stored: the token.issued event
     * carries it (mdt_audit_event.token), so that it is written in the
     * audit group commit that the response waits for. NULL for a JWT. */
    const mdt_token_rec *row;
} mdt_issued;

#define MDT_OPAQUE_PREFIX "mdt_at_"
#define MDT_MAX_TOKEN_LEN 16384

/* An opaque access token: MDT_OPAQUE_PREFIX, then base64url of its id
 * (MDT_TOKEN_ID_LEN bytes: 8 of a sequence that grows with time, 8 random;
 * its row's key) in 22 characters, then base64url of 32 random bytes in 43.
 * Tokens issued before ids were MDT_OPAQUE_PREFIX and the 43 characters
 * only; they are found by hash. */
#define MDT_OPAQUE_ID_CHARS 22
#define MDT_OPAQUE_SECRET_BYTES 32
#define MDT_OPAQUE_LEN (sizeof(MDT_OPAQUE_PREFIX) - 1 + MDT_OPAQUE_ID_CHARS + 43)

/* The next value of a node's id sequence: greater than *last (which it
 * updates, atomically: any thread may call it), and at least now << 20
 * (now in seconds), so that ids grow with time across restarts and nodes. */
uint64_t mdt_opaque_seq_next(uint64_t *last, int64_t now);
/* The id of sequence value seq and 8 random bytes rnd. */
void mdt_opaque_id_make(uint64_t seq, const uint8_t rnd[8], uint8_t id[MDT_TOKEN_ID_LEN]);
/* The token of id and secret; out holds MDT_OPAQUE_LEN + 1 bytes. */
void mdt_opaque_format(const uint8_t id[MDT_TOKEN_ID_LEN],
                       const uint8_t secret[MDT_OPAQUE_SECRET_BYTES], char *out);
/* Whether token (with its prefix) has the form of a token with an id, and
 * then its id. false: a token issued before ids, or not one of ours. */
bool mdt_opaque_id_parse(const char *token, size_t len, uint8_t id[MDT_TOKEN_ID_LEN]);
/* Whether the stored hash is the presented token's (its SHA-256), in
 * constant time: a row found by id is the token's only if it matches. */
bool mdt_opaque_hash_matches(const uint8_t stored[MDT_HASH_LEN],
                             const uint8_t presented[MDT_HASH_LEN]);

/* The issue time of anything issued to c now (access and refresh tokens):
 * never before the kill switch, which revokes by issue time, so that a
 * resume within the second of a suspension issues nothing already revoked. */
static inline int64_t mdt_token_iat(const mdt_client *c, int64_t now)
{
    return now > c->tokens_valid_after ? now : c->tokens_valid_after;
}

/* (mdt_token_mint also ends an access token when the first dynamic
 * entitlement behind its scopes ends: mdt_client_scope_expiry.) */
/* An expiry exp of anything issued to c (access tokens, refresh tokens, the
 * code's recorded ids): never beyond the client's own expiry (0: none), so
 * that no token outlives its client. The one clamp every grant uses. */
static inline int64_t mdt_token_exp_clamp(const mdt_client *c, int64_t exp)
{
    return c->expires_at && exp > c->expires_at ? c->expires_at : exp;
}

/* g->iat (mdt_token_iat) and g->exp: ttl later, never beyond the client's
 * expiry (mdt_token_exp_clamp) nor limit (0: none), for every grant. */
void mdt_token_times(mdt_grant *g, const mdt_client *c, int64_t now, int64_t ttl, int64_t limit);

/* Builds the claims, then signs them (JWT) or stores them (opaque). */
mdt_rc mdt_token_mint(mdt_env *env, mdt_arena *a, const mdt_grant *g, mdt_issued *out,
                      mdt_err *err) MDT_WARN_UNUSED;

/* The token endpoint's success body. */
mdt_rc mdt_token_response(const mdt_issued *t, const char *scope, mdt_buf *out) MDT_WARN_UNUSED;

typedef struct {
    json_t *claims;           /* owned: json_decref */
    const char *claims_text;  /* the claims as signed or stored (JSON object text, in the
                                 arena given; NULL when only parsed claims were given) */
    size_t claims_len;
    const char *client_id;    /* borrowed from claims */
    const char *jti;
    int64_t exp;
    int64_t iat;
    bool opaque;
    uint8_t hash[32];         /* opaque: SHA-256 of the token */
    bool has_id;              /* opaque: the token carries id (mdt_opaque_id_parse) */
    uint8_t id[MDT_TOKEN_ID_LEN];
} mdt_token_info;

/* Reads a token this server issued and says whether it is active at now:
 * signature, issuer, expiry, revocation, and the issuing client still
 * usable (kill switch). Revocation follows delegation chains: a token
 * with sid is inactive once that web session ended (mdt_token_session_end);
 * one with lineage (oauth/delegation.h) once any token it was exchanged
 * from is revoked (by jti, as revocation of a token, of a refresh family
 * or of a person's grant records it), and one with act or lineage once any
 * client of its chain is not usable or was suspended since it was issued. Inactive or unknown tokens give MDT_ERR_INVALID_TOKEN
 * with a private reason; *out is filled whenever the token was read. */
mdt_rc mdt_token_inspect(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                         mdt_token_info *out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_token_info_clear(mdt_token_info *ti);
/* mdt_token_inspect, with a JWT's signature verified at most twice per
 * thread and token: the claims that verified a second time are kept (per
 * thread, keyed by the token's SHA-256) until the token expires, and a kept
 * token is checked as mdt_token_inspect checks it (expiry, revocation, the
 * kill switch, delegation chains) without its signature, so a cached token
 * is refused as soon as an uncached one would be. Opaque tokens are read as
 * mdt_token_inspect reads them. *bad_signature (may be NULL): the token did
 * not verify or could not be read as a JWT (an attack signal). */
mdt_rc mdt_token_inspect_cached(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                                mdt_token_info *out, bool *bad_signature,
                                mdt_err *err) MDT_WARN_UNUSED;
/* Ends, at every node, what depends on the person's web session sid (the
 * OpenID Connect sid of web/authorize.c): access tokens issued with it
 * (the authorization code grant without offline_access, and tokens
 * delegated from them) and refresh tokens of a grant without
 * offline_access. Idempotent. */
mdt_rc mdt_token_session_end(mdt_env *env, const char *sid, int64_t now,
                             mdt_err *err) MDT_WARN_UNUSED;
/* The sid a person's token is bound to: the session's (NULL or "" when
 * none), unless the grant is for offline access (OIDC Core §11: scope has
 * offline_access), which outlives the session. */
const char *mdt_token_session_sid(const char *sid, const char *scope);
/* Whether the web session sid was ended (mdt_token_session_end). */
mdt_rc mdt_token_session_ended(mdt_env *env, const char *sid, bool *ended,
                               mdt_err *err) MDT_WARN_UNUSED;
/* Counts a use of an active token that a person approved (app.approval)
 * and that was issued as single-use (mdt_store_single_use_add): its first
 * use is MDT_OK, every later one MDT_ERR_INVALID_TOKEN. Other tokens:
 * MDT_OK, nothing counted. */
mdt_rc mdt_token_use_once(mdt_env *env, const mdt_token_info *ti, mdt_err *err) MDT_WARN_UNUSED;
/* Whether a token for sub may still be active as far as its person goes:
 * MDT_OK when sub is client_id (no person), names no user of this server,
 * or an active one; MDT_ERR_INVALID_TOKEN when the user is disabled. */
mdt_rc mdt_token_user_check(mdt_env *env, mdt_arena *a, const char *sub, const char *client_id,
                            mdt_err *err) MDT_WARN_UNUSED;
/* The rule of MDT_SCOPE_ADMIN for a token about to be issued with scope:
 * MDT_OK when scope lacks it, or when the token has no person (sub is
 * client_id: the client was entitled by an admin), or when sub names an
 * active user with role admin at now; MDT_ERR_INVALID_SCOPE otherwise
 * (a person who is not an admin, or a subject from elsewhere). Checked by
 * mdt_token_mint for every grant, so no flow (consent, a remembered
 * consent, refresh, delegation, device, CIBA) can give it to anyone else. */
mdt_rc mdt_token_admin_scope_check(mdt_env *env, mdt_arena *a, const char *sub,
                                   const char *client_id, const char *scope,
                                   mdt_err *err) MDT_WARN_UNUSED;
/* scope without MDT_SCOPE_ADMIN unless username is an active admin now
 * (the authorization pages drop it before consent, so a person who is not
 * an admin is never asked for it); scope itself when nothing is dropped;
 * NULL when out of memory or the store failed (err says which). */
const char *mdt_token_admin_scope_for(mdt_env *env, mdt_arena *a, const char *username,
                                      const char *scope, mdt_err *err);
/* Whether a token issued at issued_at to client_id may still be active: the
 * client exists, is usable, and was not suspended since (the kill switch).
 * MDT_ERR_INVALID_TOKEN with the private reason otherwise. */
mdt_rc mdt_token_client_check(mdt_env *env, mdt_arena *a, const char *client_id, int64_t issued_at,
                              int64_t now, mdt_err *err) MDT_WARN_UNUSED;

#endif
