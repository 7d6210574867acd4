/* Remembered consents (SPEC §3.4): the scopes a person consented to for a
 * client. The consent page is skipped only when every requested scope was
 * consented before; a person lists and revokes their consents.
 *
 * Memory: everything returned lives in the arena passed in. */
#ifndef MDT_IGA_CONSENT_H
#define MDT_IGA_CONSENT_H

#include <stdbool.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

#define MDT_CONSENT_SCOPE_MAX 8192 /* bytes of a remembered scope string */

/* Pure: whether every scope of want (space-separated) is in have. */
bool mdt_scope_covers(const char *have, const char *want);
/* Pure: have followed by the scopes of add not in it, space-separated;
 * NULL when out of memory or longer than MDT_CONSENT_SCOPE_MAX. */
const char *mdt_scope_union(mdt_arena *a, const char *have, const char *add);

/* *out: username consented to every scope of scope for client_id. */
mdt_rc mdt_consent_covers(mdt_env *env, const char *username, const char *client_id,
                          const char *scope, mdt_arena *a, bool *out, mdt_err *err) MDT_WARN_UNUSED;
/* Adds scope to the remembered consent of username for client_id. */
mdt_rc mdt_consent_remember(mdt_env *env, const char *username, const char *client_id,
                            const char *scope, int64_t now, mdt_arena *a,
                            mdt_err *err) MDT_WARN_UNUSED;
/* Forgets the consent (the next authorization shows the page again) and
 * ends what was issued under it, at now and in one transaction: codes not
 * yet redeemed can no longer be, and the access tokens and refresh token
 * families issued to client_id for username are revoked. */
mdt_rc mdt_consent_revoke(mdt_env *env, const char *username, const char *client_id,
                          int64_t now, mdt_err *err) MDT_WARN_UNUSED;

#endif
