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

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

/* Who registers, and what vouches for the request. */
typedef struct {
    const char *origin;       /* "dcr" (POST /register) | "cimd" (metadata document) */
    const char *source;       /* peer address: rate limits, audit */
    const char *iat_id;       /* the initial access token used (its id), or NULL */
    const char *iat_policy;   /* its policy, JSON object text, or NULL */
    const char *vouched_by;   /* issuer of a verified software statement, or NULL */
    const char *statement;    /* the verified statement's claims, JSON object text: they take
                                 precedence over the request's metadata; or NULL */
} mdt_reg_ctx;

/* POST /register: validates, applies the statement and the policy, creates
 * the client (active or pending), its secret when its method is a secret
 * method, its registration access token, and an approval request when it is
 * pending. *response_json: the RFC 7591 §3.2.1 response with client_secret
 * (when generated), registration_access_token, registration_client_uri and
 * status. Errors: invalid_client_metadata / invalid_redirect_uri /
 * invalid_software_statement... as MDT_ERR_INVALID_CLIENT_METADATA etc.;
 * nothing is created. Audited: client.registered or registration.refused. */
mdt_rc mdt_registration_create(mdt_env *env, const char *json, size_t len, const mdt_reg_ctx *ctx,
                               mdt_arena *a, const char **response_json, mdt_err *err) MDT_WARN_UNUSED;

/* Client ID metadata documents: creates the client whose client_id is the
 * document's URL, or refreshes its metadata when the document changed, under
 * the same validation and policy (origin "cimd"; no secret, no registration
 * access token). MDT_OK when the client exists afterwards (whatever its
 * status). */
mdt_rc mdt_registration_upsert_document(mdt_env *env, const char *client_id, const char *json,
                                        size_t len, const mdt_reg_ctx *ctx, mdt_arena *a,
                                        mdt_err *err) MDT_WARN_UNUSED;

#endif
