/* Initial access tokens (RFC 7591 §3): created by an admin (`mandate iat
 * create`), presented as a Bearer token at POST /register. Each has a
 * number of uses, an optional expiry and an optional policy that narrows
 * and vouches for what the clients registered with it get
 * (mdt_reg_policy). The value is 256 random bits, shown once and stored as
 * its SHA-256; a registration consumes one use in one store statement.
 *
 * Memory: everything returned lives in the caller's arena. */
#ifndef MDT_IGA_IAT_H
#define MDT_IGA_IAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"

#define MDT_IAT_POLICY_MAX 8192   /* bytes of a policy document */
#define MDT_IAT_MAX_USES 1000000
#define MDT_IAT_DEFAULT_USES 1

/* What an initial access token allows (iat create --policy). A list is
 * constrained only when its has_ flag is set. */
typedef struct {
    bool has_grant_types, has_scopes, has_kinds;
    const char **grant_types; size_t ngrant_types;
    const char **scopes; size_t nscopes;
    const char **kinds; size_t nkinds;
    const char *owner;         /* forced owner; NULL */
} mdt_reg_policy;

/* Parses and checks a policy: a JSON object with any of "grant_types"
 * (non-empty array of grant types a client may register), "scopes" (array
 * of scope names; or "scope", space-separated), "kinds" (non-empty array of
 * kinds) and "owner" (a username); nothing else. *normalized (may be NULL):
 * the canonical text ({"grant_types", "scopes", "kinds", "owner"}, present
 * members only). MDT_ERR_INVALID_REQUEST naming the bad member. */
mdt_rc mdt_iat_policy_parse(const char *json, mdt_arena *a, mdt_reg_policy *out,
                            const char **normalized, mdt_err *err) MDT_WARN_UNUSED;

/* Creates a token with max_uses uses (1..MDT_IAT_MAX_USES) that expires
 * expires_in seconds from now (0: never), with policy (JSON text; NULL:
 * none; its scopes must exist). *response_json: {"initial_access_token",
 * "expires_at" (RFC 3339 or null), "max_uses", "id", "policy" (object or
 * null)}; the caller wipes it once shown. Audited: iat.created. */
mdt_rc mdt_iat_create(mdt_env *env, mdt_ctx *ctx, int64_t max_uses, int64_t expires_in,
                      const char *policy, mdt_arena *a, const char **response_json,
                      mdt_err *err) MDT_WARN_UNUSED;

/* Finds the token presented: MDT_ERR_INVALID_TOKEN when it is unknown,
 * expired at now or used up (the detail says which). Uses nothing. */
mdt_rc mdt_iat_check(mdt_env *env, const char *token, int64_t now, mdt_arena *a, mdt_iat_rec *out,
                     mdt_err *err) MDT_WARN_UNUSED;
/* Consumes one use of the token id atomically: MDT_ERR_INVALID_TOKEN when
 * none is left (or the token is unknown or expired at now). */
mdt_rc mdt_iat_consume(mdt_env *env, const char *id, int64_t now, mdt_arena *a, mdt_iat_rec *out,
                       mdt_err *err) MDT_WARN_UNUSED;

#endif
