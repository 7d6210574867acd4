/* Refresh tokens (RFC 6749 §6, OAuth 2.1 §4.3.1, RFC 9700 §4.14): opaque
 * 256-bit values "mdt_rt_…" stored by their SHA-256 only, in families. Every
 * use rotates: the presented token is consumed in one statement and a new one
 * joins its family; presenting a consumed token again revokes the family
 * (every refresh token, and every access token issued with one).
 *
 * Memory: strings returned live in the arena passed in. */
#ifndef MDT_OAUTH_REFRESH_H
#define MDT_OAUTH_REFRESH_H

#include <stdbool.h>

#include "app/env.h"
#include "core/arena.h"
#include "store/store.h"

#define MDT_REFRESH_PREFIX "mdt_rt_"
#define MDT_REFRESH_FAMILY_PREFIX "rtf_" /* also its entry in the jti revocation list */
#define MDT_REFRESH_MAX_LEN 128          /* bytes of a presented refresh token */

/* True when token has the refresh token prefix. */
bool mdt_refresh_token_like(const char *token);

/* A new family id "rtf_…" (arena), for a grant whose family must be known
 * before its first refresh token is issued. */
mdt_rc mdt_refresh_family_new(mdt_env *env, mdt_arena *a, const char **family,
                              mdt_err *err) MDT_WARN_UNUSED;

/* Issues a refresh token from r (every field but hash; family NULL starts a
 * new family; created_at and expires_at as given): stores it and sets
 * *token (arena). MDT_ERR_CONFLICT when the family was revoked meanwhile. */
mdt_rc mdt_refresh_issue(mdt_env *env, mdt_arena *a, mdt_refresh_rec *r, const char **token,
                         mdt_err *err) MDT_WARN_UNUSED;

/* Whether the refresh token is active at now: known, not used, not revoked
 * (itself, its family, or by the kill switch of its client), not expired,
 * its client usable. MDT_ERR_INVALID_TOKEN with a private reason otherwise;
 * *out is filled whenever the row was found. */
mdt_rc mdt_refresh_inspect(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                           mdt_refresh_rec *out, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 7662 members of an active refresh token (JSON object text, arena):
 * active, token_type "refresh_token", client_id, sub, scope, exp, iat. */
const char *mdt_refresh_introspection(mdt_arena *a, const mdt_refresh_rec *r);

#endif
