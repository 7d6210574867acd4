/* Self-registration under governance (SPEC §3.3): the service behind
 * POST /register (RFC 7591), /register/{client_id} (RFC 7592) and client ID
 * metadata documents. The HTTP handlers (src/oauth/register.c, cimd.c) parse
 * and authenticate; the rules live here: metadata validation (the same as
 * `mandate client create`), the registration policy (what an unverified
 * client may get; pending or reduced when it asks for more), initial access
 * tokens, registration access tokens, approval requests, and the expiry of
 * clients that never authenticate. */
#ifndef MDT_IGA_REGISTRATION_H
#define MDT_IGA_REGISTRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "iga/iat.h"
#include "store/store.h"

/* Who registers, and what vouches for the request. */
typedef struct {
    const char *origin;       /* "dcr" (POST /register) | "cimd" (metadata document) */
    const char *source;       /* peer address: rate limits, audit */
    const char *iat_id;       /* the initial access token used (its id), or NULL */
    const char *iat_policy;   /* its policy, JSON object text, or NULL */
    const char *vouched_by;   /* issuer of a verified software statement, or NULL */
    const char *statement;    /* the verified statement's claims, JSON object text: they take
                                 precedence over the request's metadata; or NULL */
    bool single_instance;     /* its publisher allows one client per software_id */
} mdt_reg_ctx;

/* POST /register: validates, applies the statement and the policy, creates
 * the client (active or pending), its secret when its method is a secret
 * method, its registration access token, and an approval request when it is
 * pending. *response_json: the RFC 7591 §3.2.1 response with client_secret
 * (when generated), registration_access_token, registration_client_uri and
 * status. Errors: invalid_client_metadata / invalid_redirect_uri /
 * invalid_software_statement... as MDT_ERR_INVALID_CLIENT_METADATA etc.;
 * nothing is created. Audited: client.registered or registration.refused. */
mdt_rc mdt_registration_create(mdt_env *env, mdt_ctx *ctx, const char *json, size_t len,
                               const mdt_reg_ctx *reg, mdt_arena *a, const char **response_json,
                               mdt_err *err) MDT_WARN_UNUSED;

/* Client ID metadata documents: creates the client whose client_id is the
 * document's URL, or refreshes its metadata when the document changed, under
 * the same validation and policy (origin "cimd"; no secret, no registration
 * access token). MDT_OK when the client exists afterwards (whatever its
 * status). */
mdt_rc mdt_registration_upsert_document(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                        const char *json, size_t len, const mdt_reg_ctx *reg,
                                        mdt_arena *a, mdt_err *err) MDT_WARN_UNUSED;

/* --- RFC 7592: the client configuration endpoint ---
 * rat: the registration access token presented as a Bearer token. A wrong
 * or missing token, or an unknown client, is MDT_ERR_INVALID_TOKEN with one
 * public message (whether the client exists is not revealed). */

/* The current registration: the RFC 7591 document with
 * registration_client_uri (no secret, no registration access token). */
mdt_rc mdt_registration_read(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *rat,
                             mdt_arena *a, const char **response_json,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Replaces the metadata (json: the full metadata, whose client_id must equal
 * client_id) under the same validation and policy as a registration;
 * reg as for mdt_registration_create. Audited: client.updated (actor
 * "registration") or registration.refused. */
mdt_rc mdt_registration_update(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *rat,
                               const char *json, size_t len, const mdt_reg_ctx *reg, mdt_arena *a,
                               const char **response_json, mdt_err *err) MDT_WARN_UNUSED;
/* Deletes the client. Audited: client.deleted (actor "registration"). */
mdt_rc mdt_registration_delete(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *rat,
                               mdt_err *err) MDT_WARN_UNUSED;

/* Authenticates a POST /register: token is the Bearer token presented (NULL
 * when none). Open registration needs none (a token presented anyway is
 * checked and its policy applies). MDT_ERR_INVALID_TOKEN when a token is
 * needed and missing, or is unknown, expired or used up (the detail says
 * which). On MDT_OK reg->iat_id and reg->iat_policy are set (or NULL). */
mdt_rc mdt_registration_authorize(mdt_env *env, const char *token, int64_t now, mdt_arena *a,
                                  mdt_reg_ctx *reg, mdt_err *err) MDT_WARN_UNUSED;

/* Rate limits of registration, counted in the store (so they hold across
 * nodes) in fixed one-minute windows: *limited is set when this request is
 * one too many for its source ([registration] rate_per_source) or its
 * initial access token (rate_per_iat, when reg->iat_id), with the seconds
 * until the window ends in *retry_after. */
#define MDT_REG_RATE_WINDOW 60
mdt_rc mdt_registration_rate(mdt_env *env, const mdt_reg_ctx *reg, int64_t now, bool *limited,
                             int64_t *retry_after, mdt_err *err) MDT_WARN_UNUSED;

/* --- the registration policy (SPEC §3.3), a pure function --- */

/* (mdt_reg_policy, what an initial access token allows: iga/iat.h.) */

/* What the client asks for (normalized metadata). */
typedef struct {
    const char *const *grant_types; size_t ngrant_types;
    const char *const *scopes; size_t nscopes;
    const char *kind;
    const char *owner;         /* NULL when none */
    int64_t expires_at;        /* 0 = none */
} mdt_reg_ask;

/* The rules that apply to it. */
typedef struct {
    const char *unverified_scopes;      /* comma-separated ([registration]); NULL = none */
    const char *unverified_grant_types; /* comma-separated; NULL = none */
    int64_t max_lifetime;               /* of unverified clients, from since */
    bool reduce;                        /* excess = reduce (else pending) */
    bool vouched;                       /* a software statement vouches for the client */
    bool vouched_scopes;                /* ... and its signed claims include scope */
    bool vouched_grants;                /* ... and grant_types */
    bool iat;                           /* registered with an initial access token: its
                                           admin vouches within the token's policy */
    bool consented;                     /* asks only for flows where a person signs in and
                                           consents (authorization_code, refresh_token):
                                           any scope but approval ones is free */
    const char *excess;                 /* privileged members asked beyond what the client
                                           may get (why; decided by the caller); NULL */
    bool privileged_reduced;            /* privileged members were reduced by the caller */
    const mdt_reg_policy *policy;       /* of the initial access token; NULL */
    const char *const *approval; size_t napproval; /* asked scopes of sensitivity approval */
    /* an update of an active client keeps what it was granted without approval */
    const char *const *granted_scopes; size_t ngranted_scopes;
    const char *const *granted_grants; size_t ngranted_grants;
    int64_t since;                      /* registration time */
    int64_t current_expires_at;         /* an update never moves expires_at later; 0 */
} mdt_reg_rules;

typedef struct {
    bool pending;              /* created (or kept) pending approval */
    bool reduced;              /* scopes or grant types were taken away */
    const char *scope;         /* the scope to register ("" = none), in the arena */
    const char **grant_types; size_t ngrant_types;
    const char *owner;         /* NULL: no owner */
    int64_t expires_at;        /* 0 = none */
    const char *reason;        /* why pending or reduced (audit), static; NULL */
} mdt_reg_decision;

/* Applies the policy. Asking outside the token's policy (grant types,
 * kinds, scopes) is MDT_ERR_INVALID_CLIENT_METADATA; asking for more than
 * the client may get without approval, or for an approval scope, gives
 * pending (or reduced, when rules->reduce); a reduction that leaves no
 * grant type is MDT_ERR_INVALID_CLIENT_METADATA. */
mdt_rc mdt_registration_decide(const mdt_reg_rules *rules, const mdt_reg_ask *ask, mdt_arena *a,
                               mdt_reg_decision *out, mdt_err *err) MDT_WARN_UNUSED;

/* The expiry of self-registered clients that never authenticate is part of
 * a client's status: mdt_registration_inactive_deadline (iga/client.h). */

/* Pending registrations wait for an approval request (iga/requests.h) of
 * type "registration", which records the SHA-256 of the metadata it shows:
 * an approval approves exactly that metadata. How such a request is
 * checked, shown and applied is the registration row of the request types
 * (registration.c). */

#endif
