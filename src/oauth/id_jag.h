/* Identity Assertion JWT Authorization Grants (ID-JAG,
 * draft-ietf-oauth-identity-assertion-authz-grant): a JWT, typ
 * oauth-id-jag+jwt, by which an enterprise IdP tells another authorization
 * server (aud) that a person (sub) uses one of its clients (client_id, the
 * client's id there) and may be given scope for resource.
 *
 * Mandate plays both parts. As the IdP it issues ID-JAGs by token exchange
 * (mdt_exchange_id_jag in oauth/grants.h) for the targets of the [id_jag]
 * targets file (oauth/trust.h); as the target it accepts them with the JWT
 * bearer grant from the issuers of the [jwt_bearer] issuers file marked
 * "id_jag" (grant_jwt_bearer.c). The claims are built and checked here by
 * pure functions.
 *
 * Memory: strings returned live in the arena passed in, or are borrowed from
 * the claims passed in. */
#ifndef MDT_OAUTH_ID_JAG_H
#define MDT_OAUTH_ID_JAG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/mdt.h"
#include "oauth/trust.h"

#define MDT_TOKEN_TYPE_ID_JAG "urn:ietf:params:oauth:token-type:id-jag"
#define MDT_ID_JAG_TYP "oauth-id-jag+jwt"
#define MDT_ID_JAG_TOKEN_TYPE "N_A" /* RFC 8693 §2.2.1: not an access token */

typedef struct {
    const char *iss;       /* this server */
    const char *sub;       /* the person */
    const char *aud;       /* the target's issuer */
    const char *client_id; /* the client's id at the target */
    const char *jti;
    const char *scope;     /* space-separated; NULL or "": none */
    const char *resource;  /* NULL: none */
    int64_t iat, exp;
    int64_t auth_time;     /* 0: unknown */
} mdt_id_jag_claims;

/* The claims as a JSON object, appended to out. Pure. */
mdt_rc mdt_id_jag_claims_json(const mdt_id_jag_claims *c, mdt_buf *out) MDT_WARN_UNUSED;

/* What an ID-JAG for tg may carry: *scope, the requested scope (NULL: every
 * scope of tg) when each is one of tg's scopes, else invalid_scope; the
 * requested resource (NULL: none) when tg lists it, else invalid_target.
 * Pure. */
mdt_rc mdt_id_jag_narrow(mdt_arena *a, const mdt_id_jag_target *tg, const char *scope,
                         const char *resource, const char **granted,
                         mdt_err *err) MDT_WARN_UNUSED;

/* Whether a JWS typ names an ID-JAG (media types compare without case). */
bool mdt_id_jag_typ(const char *typ);

/* What accepting an ID-JAG checks beyond any JWT bearer assertion: its
 * client_id claim names client_id (the authenticated client), and scope and
 * resource, when present, are strings. *scope and *resource (NULL when
 * absent) are borrowed from claims. Failure -> MDT_ERR_VERIFY with the
 * reason in the detail. Pure. */
mdt_rc mdt_id_jag_accept_claims(json_t *claims, const char *client_id, const char **scope,
                                const char **resource, mdt_err *err) MDT_WARN_UNUSED;

/* The auth_time claim when it is an integer in the past (up to the assertion
 * leeway ahead of now); 0 otherwise. Pure. */
int64_t mdt_id_jag_auth_time(json_t *claims, int64_t now);

#endif
